import { readFile } from 'node:fs/promises'
import t from 'tap'
import { JOB_KINDS } from '../../src/workers.js'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { createRule, lead, postEvent, ruleBody, settled } from '../helpers/outbound.js'
import { find, parsePrometheus, type Sample, value } from '../helpers/prometheus.js'
import { startReceiver } from '../helpers/receiver.js'

const METRICS_TOKEN = 'metrics-token-0123456789abcdef'
const { version } = JSON.parse(
  await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string }

const scrape = async (app: Awaited<ReturnType<typeof build>>['app']) => {
  const res = await app.inject({
    url: '/metrics',
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  })
  return { text: res.body, samples: parsePrometheus(res.body) }
}

t.test('operators’ signals: build, events, attempts by class, idle queues at 0', async (t) => {
  const testApp = await build(t, { metricsToken: METRICS_TOKEN })
  const { app } = testApp

  const idle = (await scrape(app)).samples
  t.equal(value(idle, 'hookline_build_info', { version, node: process.versions.node }), 1)
  t.equal(value(idle, 'hookline_events_ingested_total'), 0)
  for (const kind of JOB_KINDS) {
    t.equal(value(idle, 'hookline_queue_depth', { kind }), 0, `${kind}: depth reads 0 when idle`)
    t.equal(value(idle, 'hookline_queue_due', { kind }), 0)
  }
  for (const status_class of ['2xx', '3xx', '4xx', '5xx', 'none']) {
    t.equal(value(idle, 'hookline_delivery_attempts_total', { status_class }), 0)
  }

  await startWorkers(t, testApp)
  const ok = await startReceiver(t)
  const failing = await startReceiver(t, (_req, res) => {
    res.writeHead(503)
    res.end()
  })
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${ok.url}/ok`))
  await createRule(
    app,
    ws,
    ruleBody(`${failing.url}/fail`, { title: 'Failing', execution: { max_attempts: 1 } }),
  )
  const sent = await postEvent(app, ws, 'lead.created', lead({ name: 'Ada' }))
  await Promise.all(sent.deliveries.map((id) => settled(app, ws, id)))

  const busy = (await scrape(app)).samples
  t.equal(value(busy, 'hookline_events_ingested_total'), 1)
  t.equal(value(busy, 'hookline_delivery_attempts_total', { status_class: '2xx' }), 1)
  t.equal(value(busy, 'hookline_delivery_attempts_total', { status_class: '5xx' }), 1)
  t.notOk(
    find(busy, 'hookline_deliveries_total').some((s) => 'workspace' in s.labels),
    'no workspace label unless asked for',
  )
})

t.test('METRICS_WORKSPACE_LABELS adds the workspace to deliveries', async (t) => {
  const testApp = await build(t, { metricsToken: METRICS_TOKEN, metricsWorkspaceLabels: true })
  const { app } = testApp
  await startWorkers(t, testApp)
  const ok = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${ok.url}/ok`))
  const sent = await postEvent(app, ws, 'lead.created', lead({ name: 'Ada' }))
  await settled(app, ws, sent.deliveries[0]!)
  const { samples } = await scrape(app)
  t.equal(
    value(samples, 'hookline_deliveries_total', { outcome: 'succeeded', workspace: ws.id }),
    1,
  )
})

t.test('the dashboard and alert rules in ops/ name only series /metrics has', async (t) => {
  const { app } = await build(t, { metricsToken: METRICS_TOKEN })
  await scrape(app) // HTTP series start with the first request served
  const { samples } = await scrape(app)
  const names = new Set(samples.map((s: Sample) => s.name))
  const dashboard = await readFile(
    new URL('../../ops/grafana-dashboard.json', import.meta.url),
    'utf8',
  )
  const alerts = await readFile(new URL('../../ops/prometheus-alerts.yml', import.meta.url), 'utf8')
  const parsed = JSON.parse(dashboard) as { panels: { targets?: { expr: string }[] }[] }
  const exprs = parsed.panels.flatMap((p) => (p.targets ?? []).map((target) => target.expr))
  t.ok(exprs.length >= 10, 'the dashboard has its panels')
  for (const [file, text] of [
    ['ops/grafana-dashboard.json', exprs.join('\n')],
    ['ops/prometheus-alerts.yml', alerts],
  ] as const) {
    const named = [...new Set(text.match(/\bhookline_[a-z0-9_]+/g) ?? [])]
    t.ok(named.length > 0, `${file} names series`)
    const missing = named.filter((name) => !names.has(name))
    t.same(missing, [], `${file}: every series it names is on /metrics`)
  }
})
