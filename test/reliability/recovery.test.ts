// Quick checks of what the fault suite (test/faults, `npm run test:faults`)
// found: each runs in-process in a second or two, so it stays in `npm test`.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { deliveryJobHandler } from '../../src/outbound/send/deliver.js'
import { createDeliveryEngine } from '../../src/outbound/send/engine.js'
import { PutOffJobError } from '../../src/queue/errors.js'
import type { Job } from '../../src/queue/types.js'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, getDelivery, postEvent, ruleBody } from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

const silent = { debug() {}, info() {}, warn() {}, error() {} }
const lead = { entity_type: 'lead', entity_id: 'L-1', fields: { lead: { id: 'L-1' } } }

function jobFor(deliveryId: string, jobId: number, attempt: number): Job {
  return {
    id: String(jobId),
    kind: 'delivery.send',
    payload: { deliveryId },
    workspaceId: null,
    attempt,
    maxAttempts: 5,
    queueKey: null,
    weight: 1,
    pieceDone() {},
    finishing() {},
    signal: new AbortController().signal,
  }
}

// One app and database for the file; each test has its own workspace.
const testApp = await build(t)
const { app, database } = testApp

t.test('a batch of 1,000 events matching five rules queues 5,000 deliveries', async (t) => {
  const ws = await createWorkspace(app)
  for (let i = 0; i < 5; i++) await createRule(app, ws, ruleBody(`http://127.0.0.1:9/r${i}`))
  const events = Array.from({ length: 1000 }, (_, i) => ({
    type: 'lead.created',
    record: { entity_type: 'lead', entity_id: `L-${i}`, fields: { lead: { id: i } } },
  }))
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events/batch',
    headers: ws.auth,
    payload: { events },
  })
  t.equal(res.statusCode, 202, 'accepted (was a 500: one INSERT with too many parameters)')
  const { rows } = await database.pool.query<{ deliveries: number; jobs: number }>(
    `select (select count(*) from deliveries where workspace_id = $1)::int as deliveries,
      (select count(*) from jobs where kind = 'delivery.send' and workspace_id = $1)::int as jobs,
      (select count(*) from deliveries d join jobs j on j.id = d.job_id
        where d.workspace_id = $1 and j.payload -> 'deliveryIds' ? d.id)::int as listed`,
    [ws.id],
  )
  // A rule's deliveries of one call go ten to a job; each job lists its own.
  t.same(rows[0], { deliveries: 5000, jobs: 500, listed: 5000 })
})

t.test(
  'a delivery left `delivering` by a dead run is put off, not dropped, at the cap',
  async (t) => {
    const ws = await createWorkspace(app)
    const rule = await createRule(app, ws, ruleBody('http://127.0.0.1:9/hook'))
    const {
      deliveries: [id],
    } = await postEvent(app, ws, 'lead.created', lead)
    // The previous run of the job marked it `delivering`, then its worker died.
    const { rows } = await database.pool.query<{ job_id: number }>(
      "update deliveries set status = 'delivering' where id = $1 returning job_id",
      [id],
    )
    const jobId = rows[0]!.job_id
    const engine = createDeliveryEngine({ ...testApp, db: database.db, log: silent })
    t.teardown(() => engine.sender.close())
    // The rule is at its cap (a hanging receiver holds every slot).
    for (let i = 0; i < 10; i++) {
      engine.limiter.acquire({ rule: rule.id, workspace: ws.id, host: '127.0.0.1:9' })
    }

    await t.rejects(
      deliveryJobHandler(engine)(jobFor(id!, jobId, 2)),
      PutOffJobError,
      'the job is put off, to run again',
    )
    const after = await getDelivery(app, ws, id!)
    t.equal(after.status, 'queued', 'queued again')
    const { rows: jobs } = await database.pool.query<{ id: string }>(
      `select j.id::text from jobs j join deliveries d on d.job_id = j.id where d.id = $1`,
      [id],
    )
    t.same(
      jobs.map((job) => job.id),
      [String(jobId)],
      'still under its job, which will send it',
    )
  },
)

t.test('a shared job’s next run sends only what is still open under it', async (t) => {
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${receiver.url}/hook`))
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events/batch',
    headers: ws.auth,
    payload: {
      events: ['L-1', 'L-2', 'L-3'].map((id) => ({
        type: 'lead.created',
        record: { ...lead, entity_id: id },
      })),
    },
  })
  const ids = res.json<{ data: { deliveries: string[] }[] }>().data.flatMap((e) => e.deliveries)
  const { rows } = await database.pool.query<{ job_id: number }>(
    'select distinct job_id from deliveries where id = any($1)',
    [ids],
  )
  t.equal(rows.length, 1, 'one call, one rule: the three deliveries share a job')
  const jobId = rows[0]!.job_id
  const [sent, cancelled, open] = ids as [string, string, string]
  // The job's first run sent the first and died; then someone cancelled the second.
  await database.pool.query(
    "update deliveries set status = 'succeeded', attempts = 1, finished_at = now() where id = $1",
    [sent],
  )
  const cancel = await app.inject({
    method: 'POST',
    url: `/v1/deliveries/${cancelled}/cancel`,
    headers: ws.auth,
  })
  t.equal(cancel.statusCode, 200, 'one delivery of a shared job can be cancelled')
  const { rows: kept } = await database.pool.query('select 1 from jobs where id = $1', [jobId])
  t.equal(kept.length, 1, 'the job stays for the others')

  const engine = createDeliveryEngine({ ...testApp, db: database.db, log: silent })
  t.teardown(() => engine.sender.close())
  let piecesDone = 0
  const finishing: number[] = []
  await deliveryJobHandler(engine)({
    ...jobFor(sent, jobId, 2),
    payload: { deliveryIds: ids },
    weight: 3,
    pieceDone: () => piecesDone++,
    finishing: () => finishing.push(receiver.received.length),
  })
  t.same(
    receiver.received.map((r) => r.headers['webhook-id']),
    [open],
    'only the delivery still open went out',
  )
  t.equal(piecesDone, 3, 'each delivery gave its slot back')
  t.strictSame(
    finishing,
    [1],
    'the job said once that it was finishing, after its request went out',
  )
  t.match(await getDelivery(app, ws, open), { status: 'succeeded', attempts: 1 })
  t.match(await getDelivery(app, ws, cancelled), { status: 'cancelled' })
  t.match(await getDelivery(app, ws, sent), { status: 'succeeded', attempt_history: [] })
})

t.test('a delivery whose job fails on its last run ends failed, saying why', async (t) => {
  const ws = await createWorkspace(app)
  const rule = await createRule(
    app,
    ws,
    ruleBody('http://127.0.0.1:9/hook', { auth: { type: 'bearer', token: 'secret-token-1' } }),
  )
  // The stored credentials no longer open (a wrong ENCRYPTION_KEY, a damaged row).
  await database.pool.query(
    `update rules set auth_secret = set_byte(auth_secret, 20, get_byte(auth_secret, 20) # 1)
    where id = $1`,
    [rule.id],
  )
  const {
    deliveries: [id],
  } = await postEvent(app, ws, 'lead.created', lead)
  const { rows } = await database.pool.query<{ job_id: number }>(
    'select job_id from deliveries where id = $1',
    [id],
  )
  const engine = createDeliveryEngine({ ...testApp, db: database.db, log: silent })
  t.teardown(() => engine.sender.close())
  const handler = deliveryJobHandler(engine)

  await t.rejects(handler(jobFor(id!, rows[0]!.job_id, 4)), 'an earlier run fails')
  t.equal((await getDelivery(app, ws, id!)).status, 'queued', 'and is retried')
  await t.rejects(handler(jobFor(id!, rows[0]!.job_id, 5)), 'the last run fails')
  const failed = await getDelivery(app, ws, id!)
  t.match(failed, { status: 'failed', attempts: 1, last_error: /^gave up/ })
  t.equal(failed.attempt_history.length, 1)
  t.notMatch(JSON.stringify(failed), /secret-token-1|authenticate data/, 'no secret, no internals')
})

t.test('a connection cut while checked out does not crash the process', async (t) => {
  const { url } = database
  const fixture = fileURLToPath(new URL('./fixtures/cut-checked-out.ts', import.meta.url))
  const child = spawnSync(process.execPath, ['--import', 'tsx', fixture, url], {
    encoding: 'utf8',
    timeout: 60_000,
  })
  t.equal(child.status, 0, `the process lived on ${child.stderr.slice(0, 500)}`)
  t.same(
    JSON.parse(child.stdout || '{}'),
    { failed: true, next: { one: 1 } },
    'the statement on the cut connection failed; the pool served the next one',
  )
})
