import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import {
  createRule,
  getDelivery,
  lead,
  pause,
  postEvent,
  ruleBody,
  settled,
  type Workspace,
} from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'

// One app and database for the file; each test has its own workspace, receiver and workers.
const testApp = await build(t)

async function switchWebhooks(ws: Workspace, on: boolean) {
  const res = await testApp.app.inject({
    method: 'PATCH',
    url: '/v1/settings',
    headers: ws.auth,
    payload: { webhooks_enabled: on },
  })
  if (res.statusCode !== 200) throw new Error(`switch: ${res.statusCode} ${res.body}`)
}

/** The workspace's jobs as the queue holds them: parked ones are never claimed. */
const jobsOf = (ws: Workspace) =>
  testApp.database.db
    .selectFrom('jobs')
    .select(['attempts', 'held_run_at'])
    .where('workspace_id', '=', ws.id)
    .execute()

t.test('off pauses queued and delayed deliveries, on resumes them', async (t) => {
  const { app } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  const now = await createRule(app, ws, ruleBody(`${receiver.url}/now`, { title: 'now' }))
  await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/later`, { title: 'later', execution: { delay_seconds: 2 } }),
  )
  // No workers yet: both deliveries wait in the queue when webhooks go off.
  const event = await postEvent(app, ws, 'lead.created', lead({}))
  t.equal(event.deliveries.length, 2)
  const dueBefore = await Promise.all(
    event.deliveries.map(async (id) => (await getDelivery(app, ws, id)).next_attempt_at),
  )
  await switchWebhooks(ws, false)
  await startWorkers(t, testApp)

  // Longer than the delay: the delayed delivery comes due while paused.
  await pause(3000)
  t.equal(receiver.received.length, 0, 'nothing is sent while off')
  for (const [i, id] of event.deliveries.entries()) {
    const delivery = await getDelivery(app, ws, id)
    t.equal(delivery.status, 'queued', 'waiting, not cancelled')
    t.equal(delivery.next_attempt_at, dueBefore[i], 'its due time is kept')
  }
  const parked = await jobsOf(ws)
  t.ok(parked.length > 0)
  t.ok(
    parked.every((job) => job.attempts === 0 && job.held_run_at !== null),
    'the paused jobs were never claimed',
  )

  const test = await app.inject({
    method: 'POST',
    url: `/v1/rules/${now.id}/test`,
    headers: ws.auth,
    payload: { record: lead({}) },
  })
  t.equal(test.statusCode, 409, test.body)
  t.equal(test.json().code, 'webhooks_off')
  t.match(test.json().message, /switched off/)
  const inline = await app.inject({
    method: 'POST',
    url: `/v1/rules/${now.id}/execute`,
    headers: ws.auth,
    payload: { record: lead({}, 'L-2'), mode: 'inline' },
  })
  t.equal(inline.statusCode, 409, inline.body)
  t.equal(inline.json().code, 'webhooks_off')
  const background = await app.inject({
    method: 'POST',
    url: `/v1/rules/${now.id}/execute`,
    headers: ws.auth,
    payload: { record: lead({}, 'L-3'), mode: 'background' },
  })
  t.equal(background.statusCode, 202, background.body)
  await pause(500)
  t.equal(receiver.received.length, 0, 'neither the test nor the executions sent anything')

  await switchWebhooks(ws, true)
  const all = [...event.deliveries, background.json().delivery.id as string]
  for (const id of all) await settled(app, ws, id, 'succeeded', 30_000)
  t.same(
    receiver.received.map((r) => r.url).sort(),
    ['/later', '/now', '/now'],
    'on resumes every paused delivery, once each',
  )
})

t.test('retry-failed while off queues the retries, which go once on', async (t) => {
  const { app } = testApp
  let status = 500
  const receiver = await startReceiver(t, (_req, res) => res.writeHead(status).end())
  const ws = await createWorkspace(app)
  const rule = await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/flaky`, { execution: { max_attempts: 1 } }),
  )
  await startWorkers(t, testApp)
  const since = new Date(Date.now() - 60_000).toISOString()
  const event = await postEvent(app, ws, 'lead.created', lead({}))
  const id = event.deliveries[0] as string
  await settled(app, ws, id, 'failed')
  t.equal(receiver.received.length, 1)

  await switchWebhooks(ws, false)
  const retried = await app.inject({
    method: 'POST',
    url: '/v1/deliveries/retry-failed',
    headers: ws.auth,
    payload: { rule_id: rule.id, since },
  })
  t.equal(retried.statusCode, 202, retried.body)
  t.same(retried.json().delivery_ids, [id])
  // A worker takes the new job, finds the workspace off, and parks it.
  await eventually(async () => (await jobsOf(ws)).some((job) => job.held_run_at !== null))
  await pause(1500)
  t.equal(receiver.received.length, 1, 'the retry waits while off')
  t.equal((await getDelivery(app, ws, id)).status, 'queued')
  const parked = await jobsOf(ws)
  t.equal(parked.length, 1)
  t.ok(parked[0]?.held_run_at, 'its job is parked, not claimed again and again')
  t.ok((parked[0]?.attempts ?? 0) <= 1, `claimed ${parked[0]?.attempts} times`)

  status = 200
  await switchWebhooks(ws, true)
  await settled(app, ws, id, 'succeeded', 30_000)
  t.equal(receiver.received.length, 2)
})
