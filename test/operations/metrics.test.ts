import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { SecretBox } from '../../src/security/secret-box.js'
import {
  build,
  createWorkspace,
  OPERATOR_TOKEN,
  operator,
  startWorkers,
  TEST_ENCRYPTION_KEY,
} from '../helpers/app.js'
import { testDatabase } from '../helpers/database.js'
import { createRule, lead, postEvent, ruleBody, settled } from '../helpers/outbound.js'
import { find, parsePrometheus, value } from '../helpers/prometheus.js'
import { startReceiver } from '../helpers/receiver.js'

const METRICS_TOKEN = 'metrics-token-0123456789abcdef'

t.test('a scrape after some traffic has the series an operator looks for', async (t) => {
  const testApp = await build(t, { metricsToken: METRICS_TOKEN })
  const { app } = testApp
  await startWorkers(t, testApp)
  const ok = await startReceiver(t)
  const failing = await startReceiver(t, (_req, res) => {
    res.writeHead(500)
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
  t.equal(sent.deliveries.length, 2)
  const outcomes = await Promise.all(sent.deliveries.map((id) => settled(app, ws, id)))
  t.same(outcomes.map((d) => d.status).sort(), ['failed', 'succeeded'])

  const res = await app.inject({
    url: '/metrics',
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const samples = parsePrometheus(res.body)

  // HTTP: by route pattern, never by URL (ids stay out of the labels).
  const http = 'hookline_http_request_duration_seconds_count'
  t.equal(value(samples, http, { route: '/v1/events', method: 'POST', status: '202' }), 1)
  t.ok(value(samples, http, { route: '/v1/deliveries/:deliveryId', method: 'GET', status: '200' }))
  t.equal(value(samples, http, { route: '/operator/workspaces', method: 'POST', status: '201' }), 1)
  t.notOk(
    samples.some((s) => Object.values(s.labels).some((v) => v.includes('dlv_'))),
    'no delivery id in any label',
  )

  // Deliveries by outcome, latency, attempts.
  t.equal(value(samples, 'hookline_deliveries_total', { outcome: 'succeeded' }), 1)
  t.equal(value(samples, 'hookline_deliveries_total', { outcome: 'failed' }), 1)
  t.equal(value(samples, 'hookline_deliveries_total', { outcome: 'cancelled' }), 0)
  const latency = 'hookline_delivery_latency_seconds_count'
  t.equal(value(samples, latency, { outcome: 'succeeded' }), 1)
  t.equal(value(samples, latency, { outcome: 'failed' }), 1)
  const attempts = 'hookline_delivery_attempt_duration_seconds_count'
  t.equal(value(samples, attempts, { result: 'success' }), 1)
  t.equal(value(samples, attempts, { result: 'http_error' }), 1)
  t.equal(value(samples, attempts, { result: 'error' }), 0)
  t.ok(
    find(samples, 'hookline_delivery_attempt_duration_seconds_bucket', { result: 'success' })
      .length > 5,
    'attempt durations are a histogram',
  )

  // Inbound calls: every outcome has a series from the start.
  for (const outcome of ['accepted', 'duplicate', 'rejected', 'invalid', 'error']) {
    t.equal(find(samples, 'hookline_inbound_calls_total', { outcome }).length, 1, outcome)
  }

  // The database pool (the test pool has 5 connections).
  t.equal(value(samples, 'hookline_db_pool_max_connections'), 5)
  t.ok(value(samples, 'hookline_db_pool_connections') >= 1)
  t.ok(value(samples, 'hookline_db_pool_idle_connections') >= 0)
  t.equal(value(samples, 'hookline_db_pool_waiting_requests'), 0)

  // The queue: the worker queued the next retention purge, an hour ahead.
  t.equal(value(samples, 'hookline_queue_depth', { kind: 'retention.purge' }), 1)
  t.equal(value(samples, 'hookline_queue_due', { kind: 'retention.purge' }), 0)
  t.equal(value(samples, 'hookline_queue_oldest_due_age_seconds', { kind: 'retention.purge' }), 0)

  // Node.js process figures come along.
  t.ok(find(samples, 'process_resident_memory_bytes').length === 1)
})

t.test(
  'queue depth and the oldest due job are read from the database at scrape time',
  async (t) => {
    // No workers: what is posted stays queued.
    const { app } = await build(t)
    const receiver = await startReceiver(t)
    const ws = await createWorkspace(app)
    await createRule(app, ws, ruleBody(`${receiver.url}/x`))
    await postEvent(app, ws, 'lead.created', lead({}, 'L-1'))
    await postEvent(app, ws, 'lead.created', lead({}, 'L-2'))

    const samples = parsePrometheus((await app.inject({ url: '/metrics', headers: operator })).body)
    t.equal(value(samples, 'hookline_queue_depth', { kind: 'delivery.send' }), 2)
    t.equal(value(samples, 'hookline_queue_due', { kind: 'delivery.send' }), 2)
    t.ok(value(samples, 'hookline_queue_oldest_due_age_seconds', { kind: 'delivery.send' }) >= 0)
    t.equal(value(samples, 'hookline_queue_dead', { kind: 'delivery.send' }), 0)
  },
)

t.test('/metrics needs the operator or the metrics token', async (t) => {
  const { app } = await build(t, { metricsToken: METRICS_TOKEN })
  const scrape = (authorization?: string) =>
    app.inject({ url: '/metrics', headers: authorization ? { authorization } : {} })

  const none = await scrape()
  t.equal(none.statusCode, 401)
  t.equal(none.json().code, 'metrics_unauthorized')
  t.equal((await scrape('Bearer not-the-token-at-all-000')).statusCode, 401)
  t.equal((await scrape(`Bearer ${METRICS_TOKEN}`)).statusCode, 200)
  t.equal((await scrape(`Bearer ${OPERATOR_TOKEN}`)).statusCode, 200)
  t.equal((await scrape(`Basic ${OPERATOR_TOKEN}`)).statusCode, 401)
})

t.test('without either token /metrics is off', async (t) => {
  const { app } = await build(t, { operatorToken: undefined, metricsToken: undefined })
  const res = await app.inject({ url: '/metrics', headers: operator })
  t.equal(res.statusCode, 403)
  t.equal(res.json().code, 'metrics_disabled')
})

t.test('a worker process serves probes and metrics, not the API', async (t) => {
  const database = await testDatabase(t)
  const config = loadConfig({}, { operatorToken: OPERATOR_TOKEN, databaseUrl: database.url })
  const app = await buildApp({
    config,
    db: database.db,
    pool: database.pool,
    box: new SecretBox(TEST_ENCRYPTION_KEY),
    routes: 'operations',
  })
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
  t.equal((await app.inject({ url: '/metrics', headers: operator })).statusCode, 200)
  t.equal((await app.inject({ url: '/v1/workspace' })).statusCode, 404)
  t.equal((await app.inject({ url: '/operator/workspaces', headers: operator })).statusCode, 404)
  t.equal((await app.inject({ method: 'POST', url: '/in/abc' })).statusCode, 404)
  // The API document and its reference page are the API's too.
  t.equal((await app.inject({ url: '/openapi.json' })).statusCode, 404)
  t.equal((await app.inject({ url: '/docs' })).statusCode, 404)
})
