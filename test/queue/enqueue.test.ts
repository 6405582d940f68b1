import pg from 'pg'
import t from 'tap'
import {
  cancelJobs,
  cancelJobsByQueueKey,
  enqueue,
  JOBS_CHANNEL,
  queueStats,
} from '../../src/queue/index.js'
import { testDatabase } from '../helpers/database.js'
import { eventually, jobRows, sleep } from './helpers.js'

t.test('enqueue stores jobs in one statement and returns their ids in order', async (t) => {
  const database = await testDatabase(t)
  t.same(await enqueue(database.db, []), [], 'nothing to do for no jobs')
  const runAt = new Date(Date.now() + 60_000)
  const ids = await enqueue(database.db, [
    { kind: 'a', payload: { n: 1 } },
    { kind: 'b', payload: 'text', workspaceId: 'ws_1', queueKey: 'rule_1', maxAttempts: 5, runAt },
    { kind: 'c', payload: undefined },
  ])
  t.equal(ids.length, 3)
  t.ok(
    ids.every((id) => /^\d+$/.test(id)),
    'ids are bigint strings',
  )
  t.ok(BigInt(ids[0]!) < BigInt(ids[1]!) && BigInt(ids[1]!) < BigInt(ids[2]!), 'in the order given')

  const { rows } = await database.pool.query(
    `select id::text as id, kind, payload, workspace_id, queue_key, max_attempts, attempts,
      run_at, run_at <= now() as due, locked_by, dead_at
    from jobs order by id`,
  )
  t.match(rows[0], { id: ids[0], kind: 'a', payload: { n: 1 }, max_attempts: 3, due: true })
  t.match(rows[1], {
    kind: 'b',
    payload: 'text',
    workspace_id: 'ws_1',
    queue_key: 'rule_1',
    max_attempts: 5,
    attempts: 0,
    due: false,
    locked_by: null,
    dead_at: null,
  })
  t.equal((rows[1].run_at as Date).getTime(), runAt.getTime(), 'run_at kept to the millisecond')
  t.equal(rows[2].payload, null, 'an undefined payload is stored as null')
})

t.test('one notification per call, sent at commit, never on rollback', async (t) => {
  const database = await testDatabase(t)
  const listener = new pg.Client({ connectionString: database.url })
  await listener.connect()
  t.teardown(() => listener.end())
  const received: unknown[] = []
  listener.on('notification', (m) => received.push(JSON.parse(m.payload ?? 'null')))
  await listener.query(`listen ${JOBS_CHANNEL}`)

  const later = new Date(Date.now() + 3_600_000)
  await database.db.transaction().execute(async (trx) => {
    await enqueue(trx, [
      { kind: 'a', payload: 1 },
      { kind: 'a', payload: 2 },
      { kind: 'a', payload: 3 },
    ])
    // The same shape again: it must not be folded into the first notification.
    await enqueue(trx, [
      { kind: 'a', payload: 1 },
      { kind: 'a', payload: 2 },
      { kind: 'a', payload: 3 },
    ])
    await enqueue(trx, [{ kind: 'a', payload: 4, runAt: later }])
    await sleep(50)
    t.same(received, [], 'nothing is announced before the commit')
  })
  await eventually(() => received.length >= 3, { what: 'notifications' })
  t.match(received, [
    { due: 3, next: null },
    { due: 3, next: null },
    { due: 0, next: later.getTime() },
  ])

  await database.db
    .transaction()
    .execute(async (trx) => {
      await enqueue(trx, [{ kind: 'a', payload: 5 }])
      throw new Error('roll back')
    })
    .catch(() => {})
  // A marker sent after the rollback: once it arrives, anything earlier would have too.
  await database.pool.query(`select pg_notify('${JOBS_CHANNEL}', '{"marker":true}')`)
  await eventually(() => received.length >= 4, { what: 'the marker' })
  t.same(received[3], { marker: true }, 'the rolled-back enqueue announced nothing')
  const { rows } = await database.pool.query('select count(*)::int as n from jobs')
  t.equal(rows[0].n, 7)
})

t.test('cancelJobs deletes jobs no worker holds', async (t) => {
  const database = await testDatabase(t)
  const ids = await enqueue(database.db, [
    { kind: 'a', payload: 1, queueKey: 'rule_1' },
    { kind: 'a', payload: 2, queueKey: 'rule_1' },
    { kind: 'a', payload: 3, queueKey: 'rule_2' },
    { kind: 'a', payload: 4 },
  ])
  // Job 2 is running somewhere (a live lease): cancelling must not pull it from under its worker.
  await database.pool.query(
    `update jobs set locked_by = 'w', locked_until = now() + interval '1 minute' where id = $1`,
    [ids[1]],
  )
  t.equal(await cancelJobs(database.db, [ids[0]!, ids[1]!]), 1)
  t.equal(
    await cancelJobsByQueueKey(database.db, 'rule_1'),
    0,
    'rule_1 has only the leased job left',
  )
  t.equal(await cancelJobsByQueueKey(database.db, 'rule_2'), 1)
  t.same(
    (await jobRows(database)).map((r) => r.id),
    [ids[1], ids[3]],
  )
  t.equal(await cancelJobs(database.db, []), 0)
})

t.test('queueStats reports depth, due, the oldest due job and dead jobs per kind', async (t) => {
  const database = await testDatabase(t)
  t.same(await queueStats(database.db), {
    depth: 0,
    due: 0,
    dead: 0,
    oldestDueAgeMs: null,
    byKind: {},
  })
  await enqueue(database.db, [
    { kind: 'send', payload: 1, runAt: new Date(Date.now() - 60_000) },
    { kind: 'send', payload: 2 },
    { kind: 'send', payload: 3, runAt: new Date(Date.now() + 60_000) },
    { kind: 'purge', payload: 4 },
  ])
  await database.pool.query(`update jobs set dead_at = now() where payload = '4'`)
  const stats = await queueStats(database.db)
  t.match(stats, { depth: 3, due: 2, dead: 1 })
  t.ok(stats.oldestDueAgeMs! >= 59_000, 'the oldest due job has waited about a minute')
  t.match(stats.byKind, {
    send: { depth: 3, due: 2, dead: 0 },
    purge: { depth: 0, due: 0, dead: 1, oldestDueAgeMs: null },
  })
})
