// The idle worker's claim (src/outbound/send/idle-claim.ts): the jobs it
// takes come with what their attempts read first, the same rows the attempt
// rounds would read, so an attempt sends what it would have sent either way.
import t from 'tap'
import { createDeliveryEngine } from '../../src/outbound/send/engine.js'
import { claimReadOf, idleDeliveryClaim } from '../../src/outbound/send/idle-claim.js'
import { JobRun } from '../../src/queue/job-run.js'
import { claimJobs } from '../../src/queue/sql/claim-jobs.js'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, lead, postEvent, ruleBody } from '../helpers/outbound.js'

const silent = { debug() {}, info() {}, warn() {}, error() {} }
const testApp = await build(t)
const { app, database } = testApp
const engine = createDeliveryEngine({ ...testApp, db: database.db, log: silent })
t.teardown(() => engine.sender.close())

const claimIdle = async () =>
  (
    await claimJobs(
      database.pool,
      { workerId: 'test', leaseMs: 60_000, limit: 4, kinds: ['delivery.send'] },
      idleDeliveryClaim,
    )
  ).map((row) => new JobRun(row, () => {}))

t.test('an idle claim reads the delivery and its context as the rounds do', async (t) => {
  const ws = await createWorkspace(app)
  const rule = await createRule(
    app,
    ws,
    ruleBody('http://127.0.0.1:9/hook', { auth: { type: 'bearer', token: 'tok-idle' } }),
  )
  // The workspace's signing secret is made on first use; make it now.
  await engine.rounds.context(ws.id, rule.id)
  const { deliveries } = await postEvent(app, ws, 'lead.created', lead({ Status: 'New' }, 'L-1'))
  const [job] = await claimIdle()
  t.ok(job, 'the job is claimed')
  const read = claimReadOf(engine, job!)
  t.ok(read, 'with what it read')

  const viaRounds = await engine.rounds.claim(deliveries[0]!, job!.id)
  t.ok(viaRounds, 'the rounds find the delivery open for the job too')
  t.strictSame(
    read!.deliveries.get(deliveries[0]!),
    viaRounds,
    'the same delivery, record included',
  )
  t.strictSame(
    read!.context,
    { workspaceId: ws.id, ruleId: rule.id, ...(await engine.rounds.context(ws.id, rule.id)) },
    'the same workspace, rule and signing secrets',
  )
})

t.test('a delivery no longer open for the job is not read', async (t) => {
  const ws = await createWorkspace(app, 'Other')
  await createRule(app, ws, ruleBody('http://127.0.0.1:9/hook'))
  const { deliveries } = await postEvent(app, ws, 'lead.created', lead({ Status: 'New' }, 'L-2'))
  await database.pool.query(`update deliveries set status = 'cancelled' where id = $1`, [
    deliveries[0],
  ])
  const [job] = await claimIdle()
  t.ok(job, 'the job is claimed')
  t.equal(claimReadOf(engine, job!)?.deliveries.size, 0, 'without its cancelled delivery')
})
