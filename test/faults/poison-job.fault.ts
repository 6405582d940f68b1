// Fault 6: jobs whose handler throws every time (a rule whose stored
// credentials no longer open, a job with a payload no handler understands).
// They end dead after their attempts; the deliveries they carried end failed
// with a reason; everything else flows past them.
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, getDelivery, postEvent, ruleBody } from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'
import { deliveryCounts, postLeads, startService } from './helpers.js'

t.test('a poison job ends dead and blocks nothing', async (t) => {
  const { app, database } = await build(t)
  const healthy = await startReceiver(t)
  const poisoned = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${healthy.url}/ok`))
  const rule = await createRule(
    app,
    ws,
    ruleBody(`${poisoned.url}/never`, {
      event_types: ['lead.poisoned'],
      auth: { type: 'bearer', token: 'a-token-that-will-not-open' },
    }),
  )
  // As after a wrong ENCRYPTION_KEY or a damaged row: the credentials no longer decrypt.
  await database.pool.query(
    `update rules set auth_secret = set_byte(auth_secret, length(auth_secret) - 1,
      get_byte(auth_secret, length(auth_secret) - 1) # 1) where id = $1`,
    [rule.id],
  )
  // And a job no handler can make sense of.
  await database.pool.query(
    "insert into jobs (kind, payload, max_attempts) values ('delivery.send', 'null', 3)",
  )

  const poison = []
  for (let i = 0; i < 5; i++) {
    const record = { entity_type: 'lead', entity_id: `P-${i}`, fields: { lead: { id: i } } }
    poison.push(...(await postEvent(app, ws, 'lead.poisoned', record)).deliveries)
  }
  const ids = await postLeads(app, ws, 200)
  startService(t, database.url, { QUEUE_LEASE_MS: '2000', WORKER_CONCURRENCY: '10' })

  const deadJobs = async () => {
    const { rows } = await database.pool.query<{ n: number }>(
      'select count(*)::int as n from jobs where dead_at is not null',
    )
    return rows[0]!.n
  }
  await eventually(async () => (await deliveryCounts(database)).succeeded === 200, 120_000)
  t.ok((await deadJobs()) < 6, 'the healthy stream finished while the poison was still retrying')
  await eventually(async () => (await deadJobs()) === 6, 120_000)
  const counts = await deliveryCounts(database)
  t.match(counts, { succeeded: 200, failed: 5, total: 205 }, 'deliveries finished = events in')
  t.equal(healthy.received.length, ids.length, 'every healthy delivery went out')
  t.equal(poisoned.received.length, 0, 'nothing went out without its credentials')

  const { rows: dead } = await database.pool.query<{ attempts: number; last_error: string }>(
    'select attempts, last_error from jobs where dead_at is not null order by id',
  )
  t.match(
    dead[0],
    { attempts: 3, last_error: /TypeError/ },
    'the job with a bad payload died after its 3 attempts',
  )
  t.equal(dead.length, 6)
  t.ok(
    dead.slice(1).every((row) => row.attempts === 5),
    'each poisoned delivery’s job died after its 5 runs',
  )
  const live = await database.pool.query<{ n: number }>(
    "select count(*)::int as n from jobs where kind = 'delivery.send' and dead_at is null",
  )
  t.equal(live.rows[0]!.n, 0, 'nothing else is left in the queue')

  const failed = await getDelivery(app, ws, poison[0]!)
  t.match(failed, { status: 'failed', attempts: 1, last_error: /gave up/ })
  t.equal(failed.attempt_history.length, 1, 'its history says why')
  t.notMatch(JSON.stringify(failed), /a-token-that-will-not-open/)
})
