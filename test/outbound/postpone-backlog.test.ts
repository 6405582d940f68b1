// The statement that puts a capped rule's (or workspace's) due backlog off in
// one go (src/outbound/deliveries/postpone-backlog.ts), against real rows.
import t from 'tap'
import {
  postponeBacklog,
  spaceRuleBacklog,
} from '../../src/outbound/deliveries/postpone-backlog.js'
import { enqueue } from '../../src/queue/enqueue.js'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, lead, ruleBody, type Workspace } from '../helpers/outbound.js'

// One app and database for the file; each test has its own workspaces. No workers run.
const { app, database } = await build(t)

interface JobState {
  delivery: string
  rule: string
  job: string
  run_at: Date
  next_attempt_at: Date | null
  locked_until: Date | null
  dead_at: Date | null
}

/** Every delivery of the workspaces with its job, as the database has them now. */
async function state(...workspaces: Workspace[]): Promise<Map<string, JobState>> {
  const { rows } = await database.pool.query<JobState>(
    `select d.id as delivery, d.rule_id as rule, j.id::text as job, j.run_at, d.next_attempt_at,
      j.locked_until, j.dead_at
    from deliveries d join jobs j on j.id = d.job_id
    where d.workspace_id = any($1)`,
    [workspaces.map((w) => w.id)],
  )
  return new Map(rows.map((r) => [r.delivery, r]))
}

/**
 * `n` events matching every rule of the workspace, each in a call of its own
 * (so each delivery has a job of its own, as most tests here want); answers
 * the delivery ids. `together` posts them in one call, where a rule's
 * deliveries share jobs.
 */
async function post(
  ws: Workspace,
  n: number,
  prefix: string,
  { together = false } = {},
): Promise<string[]> {
  const events = Array.from({ length: n }, (_, i) => ({
    type: 'lead.created',
    record: lead({}, `${prefix}-${i}`),
  }))
  const calls = together ? [events] : events.map((event) => [event])
  const ids: string[] = []
  for (const batch of calls) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/events/batch',
      headers: ws.auth,
      payload: { events: batch },
    })
    ids.push(...res.json<{ data: { deliveries: string[] }[] }>().data.flatMap((e) => e.deliveries))
  }
  return ids
}

const setJob = (jobId: string, set: string) =>
  database.pool.query(`update jobs set ${set} where id = $1`, [jobId])

t.test('a capped rule’s due jobs move later; nothing else does', async (t) => {
  const a = await createWorkspace(app, 'A')
  const b = await createWorkspace(app, 'B')
  const capped = await createRule(app, a, ruleBody('http://127.0.0.1:9/capped'))
  await createRule(app, a, ruleBody('http://127.0.0.1:9/neighbour'))
  await createRule(app, b, ruleBody('http://127.0.0.1:9/other'))
  await post(a, 7, 'A')
  await post(b, 3, 'B')

  const before = await state(a, b)
  const cappedJobs = [...before.values()].filter((s) => s.rule === capped.id)
  t.equal(cappedJobs.length, 7)
  const [leased, expired, far, near, dead] = cappedJobs.map((s) => s.job) as string[]
  await setJob(leased!, "locked_by = 'w', locked_until = now() + interval '1 minute', attempts = 1")
  await setJob(
    expired!,
    "locked_by = 'w', locked_until = now() - interval '1 second', attempts = 1",
  )
  await setJob(far!, "run_at = now() + interval '1 hour'")
  await setJob(near!, "run_at = now() + interval '1 second'")
  await setJob(dead!, "dead_at = now(), last_error = 'x'")
  // Another kind of job under the same key and workspace is not a delivery's.
  const [other] = await enqueue(database.db, [
    { kind: 'other.kind', payload: {}, workspaceId: a.id, queueKey: capped.id },
  ])
  const ready = await state(a, b)

  const startedAt = Date.now()
  const moved = await postponeBacklog(database.db, { ruleId: capped.id }, 5000)
  const endedAt = Date.now()
  t.equal(moved, 4, 'the two due, the one whose lease ran out, the one due within the delay')

  const after = await state(a, b)
  t.equal(after.size, before.size, 'every delivery still names a job that exists')
  for (const [id, was] of before) {
    t.equal(after.get(id)?.job, was.job, 'same job id, so the delivery’s job_id stays valid')
  }
  const movedJobs = new Set(
    cappedJobs.map((s) => s.job).filter((j) => ![leased, far, dead].includes(j)),
  )
  for (const [id, now] of after) {
    const was = ready.get(id)!
    if (movedJobs.has(now.job)) {
      const at = now.run_at.getTime()
      t.ok(at >= startedAt + 5000 - 50 && at <= endedAt + 10_000 + 50, 'moved 5–10 s ahead, spread')
      t.same(now.next_attempt_at, now.run_at, 'the delivery shows when it will go')
    } else {
      t.same(now.run_at, was.run_at, `${now.rule === capped.id ? 'held' : 'other'} job left alone`)
      t.same(now.next_attempt_at, was.next_attempt_at)
    }
  }
  const { rows } = await database.pool.query('select run_at from jobs where id = $1', [other])
  t.ok(rows[0].run_at.getTime() <= startedAt, 'another kind under the same key left alone')
  t.ok(after.get([...after].find(([, s]) => s.job === leased)![0])!.locked_until, 'still leased')
})

t.test('a capped workspace’s due jobs move, every rule of it; not another’s', async (t) => {
  const a = await createWorkspace(app, 'A')
  const b = await createWorkspace(app, 'B')
  await createRule(app, a, ruleBody('http://127.0.0.1:9/one'))
  await createRule(app, a, ruleBody('http://127.0.0.1:9/two'))
  await createRule(app, b, ruleBody('http://127.0.0.1:9/other'))
  await post(a, 4, 'A')
  await post(b, 4, 'B')
  const before = await state(a, b)

  const startedAt = Date.now()
  t.equal(await postponeBacklog(database.db, { workspaceId: a.id }, 2000), 8, 'both rules’ jobs')
  for (const now of (await state(a)).values()) {
    t.ok(now.run_at.getTime() >= startedAt + 2000 - 50, 'moved at least the delay ahead')
  }
  for (const [id, now] of await state(b)) {
    t.same(now.run_at, before.get(id)!.run_at, 'the other workspace’s jobs stay put')
  }
})

t.test('a backlog larger than a chunk moves in several statements, each job once', async (t) => {
  const a = await createWorkspace(app, 'A')
  const rule = await createRule(app, a, ruleBody('http://127.0.0.1:9/big'))
  await post(a, 25, 'A')
  const startedAt = Date.now()
  const moved = await postponeBacklog(database.db, { ruleId: rule.id }, 3000, { chunk: 10 })
  t.equal(moved, 25, 'every job once: a moved job is past the cut-off of the next chunk')
  const after = [...(await state(a)).values()]
  t.ok(after.every((s) => s.run_at.getTime() >= startedAt + 3000 - 50))
  const spread = new Set(after.map((s) => s.run_at.getTime()))
  t.ok(spread.size > 1, 'spread, not all due at one instant')
})

t.test(
  'a job being claimed or a delivery locked meanwhile is skipped, not waited for',
  async (t) => {
    const a = await createWorkspace(app, 'A')
    const rule = await createRule(app, a, ruleBody('http://127.0.0.1:9/locked'))
    const [first, second] = await post(a, 2, 'A')
    const before = await state(a)
    const client = await database.pool.connect()
    t.teardown(() => client.release())
    await client.query('begin')
    // A cancel holds its delivery's row, then deletes the job: this must not wait on either.
    await client.query('select 1 from deliveries where id = $1 for update', [first])
    await client.query('select 1 from jobs where id = $1 for update', [before.get(second!)!.job])
    const moved = await postponeBacklog(database.db, { ruleId: rule.id }, 1000)
    await client.query('rollback')
    t.equal(moved, 1, 'the job of the locked delivery moved; the locked job did not')
    const after = await state(a)
    t.same(after.get(second!)!.run_at, before.get(second!)!.run_at, 'locked job left alone')
    t.same(
      after.get(first!)!.next_attempt_at,
      before.get(first!)!.next_attempt_at,
      'a locked delivery keeps its row as it is',
    )
    t.not(after.get(first!)!.run_at.getTime(), before.get(first!)!.run_at.getTime())
  },
)

t.test('a rate-limited rule’s due backlog is spaced at its rate, in order', async (t) => {
  const a = await createWorkspace(app, 'A')
  const limited = await createRule(app, a, ruleBody('http://127.0.0.1:9/limited'))
  const neighbour = await createRule(app, a, ruleBody('http://127.0.0.1:9/neighbour'))
  await post(a, 6, 'A')
  const before = await state(a)
  const limitedJobs = [...before.values()]
    .filter((s) => s.rule === limited.id)
    .sort((x, y) => Number(x.job) - Number(y.job))
  const [held, ...due] = limitedJobs.map((s) => s.job) as string[]
  await setJob(held!, "locked_by = 'w', locked_until = now() + interval '1 minute', attempts = 1")

  const from = new Date(Date.now() + 60_000)
  t.equal(
    await spaceRuleBacklog(database.db, limited.id, { from, perSecond: 2 }),
    5,
    'the due jobs, not the one a worker holds',
  )
  const after = await state(a)
  const runAt = (job: string) => [...after.values()].find((s) => s.job === job)!.run_at.getTime()
  t.same(
    due.map((job) => runAt(job) - from.getTime()),
    [500, 1000, 1500, 2000, 2500],
    'one every 1/2 s after `from`, oldest first',
  )
  for (const s of after.values()) {
    if (due.includes(s.job)) t.same(s.next_attempt_at, s.run_at, 'the delivery shows when')
    else t.same(s.run_at, before.get(s.delivery)!.run_at, 'held and other rules’ jobs stay')
  }
  t.ok([...after.values()].some((s) => s.rule === neighbour.id))
  t.equal(
    await spaceRuleBacklog(database.db, limited.id, { from, perSecond: 2 }),
    0,
    'spaced jobs are no longer due: nothing moves twice',
  )
})

t.test('a job shared by several deliveries moves whole, and spacing counts each', async (t) => {
  const a = await createWorkspace(app, 'A')
  const rule = await createRule(app, a, ruleBody('http://127.0.0.1:9/shared'))
  const ids = await post(a, 12, 'A', { together: true })
  const before = await state(a)
  const jobs = [...new Set([...before.values()].map((s) => s.job))].sort(
    (x, y) => Number(x) - Number(y),
  )
  t.equal(jobs.length, 2, 'twelve deliveries of one rule in one call: a job of ten, one of two')
  const { rows: weights } = await database.pool.query<{ weight: number }>(
    'select weight from jobs where id = any($1::bigint[]) order by id',
    [jobs],
  )
  t.same(
    weights.map((w) => w.weight),
    [10, 2],
    'each weighs its deliveries',
  )

  const from = new Date(Date.now() + 60_000)
  t.equal(
    await spaceRuleBacklog(database.db, rule.id, { from, perSecond: 1 }),
    12,
    'every delivery counted, not every job',
  )
  const after = await state(a)
  const runAt = (job: string) => [...after.values()].find((s) => s.job === job)!.run_at.getTime()
  t.same(
    jobs.map((job) => runAt(job) - from.getTime()),
    [1000, 11_000],
    'the second job waits for the ten sends of the first',
  )
  for (const id of ids) {
    const now = after.get(id)!
    t.same(now.next_attempt_at, now.run_at, 'each delivery of a moved job shows when')
  }

  t.equal(
    await postponeBacklog(database.db, { ruleId: rule.id }, 120_000),
    2,
    'the jobs move, not their deliveries one by one',
  )
  for (const [id, now] of await state(a)) {
    t.equal(now.job, before.get(id)!.job, 'every delivery still names its job')
    t.same(now.next_attempt_at, now.run_at)
  }
})

t.test(
  'a job queued before jobs were shared (payload deliveryId) moves with its delivery',
  async (t) => {
    const a = await createWorkspace(app, 'A')
    const rule = await createRule(app, a, ruleBody('http://127.0.0.1:9/old'))
    const [id] = await post(a, 1, 'A')
    const before = await state(a)
    const job = before.get(id!)!.job
    // The shape migration 0013 found in the table.
    await setJob(job, `payload = jsonb_build_object('deliveryId', '${id}'), weight = 1`)

    const startedAt = Date.now()
    t.equal(await postponeBacklog(database.db, { ruleId: rule.id }, 3000), 1, 'the old job moves')
    const after = (await state(a)).get(id!)!
    t.equal(after.job, job, 'the same job')
    t.ok(after.run_at.getTime() >= startedAt + 3000 - 50, 'later by the delay')
    t.same(after.next_attempt_at, after.run_at, 'its delivery follows')
  },
)
