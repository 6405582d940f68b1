// The delivery reconcile (src/outbound/deliveries/reconcile-job.ts): an open
// delivery whose job the claim buried, or that names no job at all, ends
// failed; a healthy one is left alone.
import t from 'tap'
import { newId } from '../../src/ids.js'
import {
  RECONCILE_INTERVAL_MS,
  RECONCILE_JOB,
  reconcileJobHandler,
  scheduleReconcile,
} from '../../src/outbound/deliveries/reconcile-job.js'
import { createDeliveryEngine } from '../../src/outbound/send/engine.js'
import { claimJobs } from '../../src/queue/sql/claim-jobs.js'
import type { Job } from '../../src/queue/types.js'
import { build, createWorkspace } from '../helpers/app.js'
import {
  createRule,
  getDelivery,
  lead,
  postEvent,
  ruleBody,
  setCallback,
  type Workspace,
} from '../helpers/outbound.js'

const silent = { debug() {}, info() {}, warn() {}, error() {} }
const testApp = await build(t)
const { app, database } = testApp
const engine = createDeliveryEngine({ ...testApp, db: database.db, log: silent })
t.teardown(() => engine.sender.close())

const reconcileRun = (run: number): Job => ({
  id: '0',
  kind: RECONCILE_JOB,
  payload: { run },
  workspaceId: null,
  attempt: 1,
  maxAttempts: 3,
  queueKey: null,
  weight: 1,
  pieceDone() {},
  finishing() {},
  signal: new AbortController().signal,
})

async function queued(ws: Workspace, id: string) {
  const post = await postEvent(app, ws, 'lead.created', lead({}, id))
  return post.deliveries[0]!
}

/** A delivery as an inline send leaves it: no job; `minutesAgo` since it last changed. */
async function inlineDelivery(ws: Workspace, ruleId: string, minutesAgo: number) {
  const id = newId('dlv')
  await database.pool.query(
    `insert into deliveries (id, workspace_id, rule_id, kind, status, record, max_attempts,
      job_id, updated_at)
    values ($1, $2, $3, 'rule', 'delivering', '{}', 3, null, now() - $4 * interval '1 minute')`,
    [id, ws.id, ruleId, minutesAgo],
  )
  return id
}

const jobOf = async (deliveryId: string) =>
  (
    await database.pool.query<{ job_id: number }>('select job_id from deliveries where id = $1', [
      deliveryId,
    ])
  ).rows[0]!.job_id

t.test('a delivery whose job the claim buried ends failed; healthy ones stay', async (t) => {
  const ws = await createWorkspace(app)
  await setCallback(app, ws, 'http://127.0.0.1:9/crm')
  const rule = await createRule(
    app,
    ws,
    ruleBody('http://127.0.0.1:9/hook', { notify_on_failure: true }),
  )
  const buried = await queued(ws, 'L-buried')
  const leased = await queued(ws, 'L-leased')
  const later = await queued(ws, 'L-later')
  const buriedJob = await jobOf(buried)
  // Its last run marked it delivering, then its worker died: the lease ran out on the last attempt.
  await database.pool.query("update deliveries set status = 'delivering' where id = $1", [buried])
  await database.pool.query(
    `update jobs set attempts = max_attempts, locked_by = 'gone',
      locked_until = now() - interval '1 second' where id = $1`,
    [buriedJob],
  )
  await database.pool.query(`update jobs set run_at = now() + interval '1 hour' where id = $1`, [
    await jobOf(later),
  ])
  // A worker's claim buries the spent job and leases the due one, as it would for real.
  const claimed = await claimJobs(database.pool, {
    workerId: 'test',
    leaseMs: 60_000,
    limit: 10,
    kinds: ['delivery.send'],
  })
  t.same(
    claimed.map((c) => c.id),
    [String(await jobOf(leased))],
  )
  const dead = await database.pool.query('select dead_at from jobs where id = $1', [buriedJob])
  t.ok(dead.rows[0].dead_at, 'the claim buried the job without running it')

  await reconcileJobHandler(engine)(reconcileRun(1))

  const closed = await getDelivery(app, ws, buried)
  t.equal(closed.status, 'failed')
  t.equal(closed.attempts, 1)
  t.match(closed.last_error, /process sending it stopped .* during each of 5 runs/)
  t.match(closed.attempt_history, [{ attempt: 1, error: closed.last_error }])
  t.equal(
    (await getDelivery(app, ws, leased)).status,
    'delivering',
    'a leased one is left alone: its job holds it',
  )
  t.equal((await getDelivery(app, ws, later)).status, 'queued', 'a scheduled one is left alone')
  const notices = await database.pool.query<{ record: { type: string } }>(
    "select record from deliveries where workspace_id = $1 and kind = 'notice'",
    [ws.id],
  )
  t.match(
    notices.rows.map((r) => r.record),
    [{ type: 'delivery.failed' }],
    'the usual failure notice',
  )
  t.equal(closed.rule_id, rule.id)
})

t.test(
  'every open delivery of a dead shared job ends failed, and of an old-shape one',
  async (t) => {
    const ws = await createWorkspace(app)
    await createRule(app, ws, ruleBody('http://127.0.0.1:9/hook'))
    const res = await app.inject({
      method: 'POST',
      url: '/v1/events/batch',
      headers: ws.auth,
      payload: {
        events: ['L-s1', 'L-s2'].map((id) => ({ type: 'lead.created', record: lead({}, id) })),
      },
    })
    const shared = res
      .json<{ data: { deliveries: string[] }[] }>()
      .data.flatMap((e) => e.deliveries)
    t.equal(
      await jobOf(shared[0]!),
      await jobOf(shared[1]!),
      'one call, one rule: one job for both',
    )
    const old = await queued(ws, 'L-old')
    // A job queued before jobs were shared names its one delivery as `deliveryId`.
    await database.pool.query(
      "update jobs set payload = jsonb_build_object('deliveryId', $2::text) where id = $1",
      [await jobOf(old), old],
    )
    await database.pool.query(
      "update jobs set attempts = 5, dead_at = now(), last_error = 'x' where id = any($1::bigint[])",
      [[await jobOf(shared[0]!), await jobOf(old)]],
    )

    await reconcileJobHandler(engine)(reconcileRun(1))

    for (const id of [...shared, old]) {
      t.match(
        await getDelivery(app, ws, id),
        { status: 'failed', last_error: /during each of 5 runs/ },
        'closed, saying why',
      )
    }
  },
)

t.test('a delivery with no job left ends failed on a full sweep, once stale', async (t) => {
  const ws = await createWorkspace(app)
  const rule = await createRule(app, ws, ruleBody('http://127.0.0.1:9/hook'))
  const abandoned = await inlineDelivery(ws, rule.id, 10)
  const inFlight = await inlineDelivery(ws, rule.id, 0)
  const gone = await queued(ws, 'L-gone')
  const healthy = await queued(ws, 'L-healthy')
  await database.pool.query(
    "update deliveries set updated_at = now() - interval '10 minutes' where id = any($1)",
    [[gone, healthy]],
  )
  await database.pool.query('delete from jobs where id = $1', [await jobOf(gone)])

  await reconcileJobHandler(engine, { staleMs: 60_000 })(reconcileRun(1))
  t.equal((await getDelivery(app, ws, abandoned)).status, 'delivering', 'not on a short run')

  await reconcileJobHandler(engine, { staleMs: 60_000 })(reconcileRun(12))
  for (const id of [abandoned, gone]) {
    const d = await getDelivery(app, ws, id)
    t.equal(d.status, 'failed')
    t.match(d.last_error, /no job was left to send it/)
  }
  t.equal((await getDelivery(app, ws, inFlight)).status, 'delivering', 'an inline send going on')
  t.equal((await getDelivery(app, ws, healthy)).status, 'queued', 'an old one with its job')
})

t.test('each run queues the next, once', async (t) => {
  await database.pool.query('delete from jobs where kind = $1', [RECONCILE_JOB])
  t.equal(await scheduleReconcile(database.db), true)
  t.same(await Promise.all([1, 2, 3].map(() => scheduleReconcile(database.db))), [
    false,
    false,
    false,
  ])
  const { rows } = await database.pool.query<{ id: string }>(
    'select id::text from jobs where kind = $1',
    [RECONCILE_JOB],
  )
  await reconcileJobHandler(engine)({ ...reconcileRun(0), id: rows[0]!.id })
  await database.pool.query('delete from jobs where id = $1', [rows[0]!.id]) // completed
  const next = await database.pool.query<{ run_at: Date; payload: { run: number } }>(
    'select run_at, payload from jobs where kind = $1',
    [RECONCILE_JOB],
  )
  t.equal(next.rows.length, 1)
  t.same(next.rows[0]!.payload, { run: 1 })
  t.ok(next.rows[0]!.run_at.getTime() > Date.now() + RECONCILE_INTERVAL_MS / 2, 'an interval ahead')
})
