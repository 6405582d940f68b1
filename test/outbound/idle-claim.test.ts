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

const claimIdle = async (announced?: { from: string; to: string }) =>
  (
    await claimJobs(
      database.pool,
      { workerId: 'test', leaseMs: 60_000, limit: 4, kinds: ['delivery.send'], announced },
      idleDeliveryClaim,
    )
  ).map((row) => new JobRun(row, () => {}))

/** The job of a delivery, and whether a worker holds it. */
const jobOf = async (deliveryId: string) => {
  const { rows } = await database.pool.query<{ id: string; held: boolean }>(
    `select j.id::text as id, j.locked_by is not null as held
    from jobs j where j.id = (select job_id from deliveries where id = $1)`,
    [deliveryId],
  )
  return rows[0]!
}

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

t.test(
  'a job whose deliveries were made on two days reads both, each with its event',
  async (t) => {
    const ws = await createWorkspace(app, 'Two days')
    await createRule(app, ws, ruleBody('http://127.0.0.1:9/hook'))
    const { deliveries } = await postEvent(app, ws, 'lead.created', lead({ Status: 'New' }, 'L-3'))
    const today = deliveries[0]!
    // A copy of the delivery and its event made a day earlier (ids are
    // time-ordered; each day is a partition of its own), in the same job.
    const { rows } = await database.pool.query<{ id: string; event_id: string }>(
      `with old as (
       select hookline_id_bound('dlv', now() - interval '1 day') || 'x' as delivery_id,
         hookline_id_bound('evt', now() - interval '1 day') || 'x' as event_id
     ),
     event as (
       insert into events
       select (jsonb_populate_record(e, jsonb_build_object('id', old.event_id,
         'fields', jsonb_build_object('lead', jsonb_build_object('id', 'L-yesterday'))))).*
       from events e, old where e.id = (select event_id from deliveries where id = $1)
     )
     insert into deliveries
     select (jsonb_populate_record(d, jsonb_build_object('id', old.delivery_id,
       'event_id', old.event_id))).*
     from deliveries d, old where d.id = $1
     returning id, event_id`,
      [today],
    )
    const yesterday = rows[0]!.id
    await database.pool.query(
      `update jobs set payload = jsonb_build_object('deliveryIds', jsonb_build_array($1::text, $2::text))
     where id = (select job_id from deliveries where id = $2)`,
      [yesterday, today],
    )
    const [job] = await claimIdle()
    const read = claimReadOf(engine, job!)
    t.strictSame(
      [...(read?.deliveries.keys() ?? [])].sort(),
      [yesterday, today].sort(),
      'both deliveries are read',
    )
    const leadOf = (id: string) =>
      (read?.deliveries.get(id)?.record as { fields?: { lead?: { id?: string } } } | null)?.fields
        ?.lead?.id
    t.equal(leadOf(yesterday), 'L-yesterday', "yesterday's with its own event")
    t.equal(leadOf(today), 'L-3', "today's with its own event")
  },
)

t.test('an idle claim told which jobs were announced takes those, not older ones', async (t) => {
  const ws = await createWorkspace(app, 'Announced')
  await createRule(app, ws, ruleBody('http://127.0.0.1:9/hook'))
  const older = await postEvent(app, ws, 'lead.created', lead({ Status: 'New' }, 'L-4'))
  const newer = await postEvent(app, ws, 'lead.created', lead({ Status: 'New' }, 'L-5'))
  const olderJob = await jobOf(older.deliveries[0]!)
  const newerJob = await jobOf(newer.deliveries[0]!)
  const jobs = await claimIdle({ from: newerJob.id, to: newerJob.id })
  t.strictSame(
    jobs.map((job) => job.id),
    [newerJob.id],
    'the announced job, though an older one is due too',
  )
  t.ok(claimReadOf(engine, jobs[0]!)?.deliveries.has(newer.deliveries[0]!), 'with its delivery')
  t.equal(
    (await jobOf(older.deliveries[0]!)).held,
    false,
    'the older job is left for the next look',
  )
  t.strictSame(
    (await claimIdle()).map((job) => job.id),
    [olderJob.id],
    'an idle claim told nothing takes what is due',
  )
})

t.test('two idle claims told of the same job: one takes it', async (t) => {
  const ws = await createWorkspace(app, 'Raced')
  await createRule(app, ws, ruleBody('http://127.0.0.1:9/hook'))
  const { deliveries } = await postEvent(app, ws, 'lead.created', lead({ Status: 'New' }, 'L-6'))
  const job = await jobOf(deliveries[0]!)
  const announced = { from: job.id, to: job.id }
  const [a, b] = await Promise.all([claimIdle(announced), claimIdle(announced)])
  t.strictSame(
    [...a!, ...b!].map((run) => run.id),
    [job.id],
    'claimed once between the two',
  )
  t.strictSame(await claimIdle(announced), [], 'and not again while its lease holds')
})
