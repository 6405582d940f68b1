// Fault 5: SIGTERM to a worker process under load. It stops claiming,
// finishes the sends in flight, hands back what it had claimed but not
// started, and exits; a new process finishes the rest. Every delivery is
// sent exactly once.
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, ruleBody } from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'
import { deliveryCounts, jobCounts, postLeads, startService, webhookIds } from './helpers.js'

t.test('SIGTERM under load: in-flight sends finish, the rest is handed back', async (t) => {
  const { app, database } = await build(t)
  const receiver = await startReceiver(t, (_req, res) => {
    setTimeout(() => res.writeHead(200).end('ok'), 300)
  })
  const ws = await createWorkspace(app)
  for (let i = 0; i < 5; i++) await createRule(app, ws, ruleBody(`${receiver.url}/r${i}`))
  const ids = await postLeads(app, ws, 60)
  t.equal(ids.length, 300, 'events in: 60 events × 5 rules')

  // The five rules' one receiver stands for five: no host cap, every slot in use.
  const env = {
    QUEUE_LEASE_MS: '2000',
    WORKER_CONCURRENCY: '20',
    WORKER_CONCURRENCY_PER_HOST: '20',
  }
  const a = startService(t, database.url, env)
  await receiver.waitFor(60, 120_000)
  const receivedAtSignal = receiver.received.length
  a.child.kill('SIGTERM')
  const exit = await a.exited
  t.same(exit, { code: 0, signal: null }, 'it exits cleanly')
  await a.waitForLine(/"msg":"stopped"/, 1000)

  const atExit = await deliveryCounts(database)
  const receivedAtExit = receiver.received.length
  t.equal(atExit.delivering, 0, 'no send was left half done')
  t.equal(atExit.succeeded, receivedAtExit, 'every request the receiver got was recorded')
  t.ok(
    receivedAtExit - receivedAtSignal <= 20,
    'after the signal only sends already running went out',
  )
  t.ok(atExit.queued > 0, 'it stopped before the end')
  const { rows: held } = await database.pool.query(
    "select id from jobs where kind = 'delivery.send' and locked_by is not null",
  )
  t.same(held, [], 'every job it had claimed was handed back')
  t.ok((await jobCounts(database)).live > 0, 'the jobs still to run are in the table')
  // A job may send up to ten deliveries of a rule: each one still to send must
  // be named by a live job that lists it.
  const { rows: orphans } = await database.pool.query(
    `select d.id from deliveries d
    left join jobs j on j.id = d.job_id and j.dead_at is null
    where d.status = 'queued' and (j.id is null
      or not coalesce(j.payload -> 'deliveryIds', jsonb_build_array(j.payload -> 'deliveryId')) ? d.id)`,
  )
  t.same(orphans, [], 'every delivery still to send has a live job that names it')

  const restartedAt = Date.now()
  startService(t, database.url, env)
  await eventually(async () => (await deliveryCounts(database)).succeeded === 300, 120_000)
  const recoveryMs = Date.now() - restartedAt
  t.match(await deliveryCounts(database), { succeeded: 300, total: 300 }, 'all finished')
  const seen = webhookIds(receiver.received)
  t.equal(receiver.received.length, 300, 'the receiver got exactly 300 requests')
  t.same([...seen.keys()].sort(), [...ids].sort(), 'one per delivery')
  t.same(
    [...seen.values()].filter((n) => n !== 1),
    [],
    'none twice',
  )
  t.comment(
    `figures: ${receivedAtSignal} received at SIGTERM, ${receivedAtExit} at exit, ${atExit.queued} handed back; restart to all done ${recoveryMs} ms`,
  )
})
