// Fault 7: workspace A's receiver accepts and never answers, with 10,000
// deliveries queued for it; workspace B's deliveries still go out while A's
// backlog stands, and A never holds more than its share of the slots.
//
// A's sends time out after 6 s, so "B was through before any of A's attempts
// timed out" bounds B's latency without a clock in the test: before the fix
// (the worker took A's due jobs one by one, found A at its cap and put each
// off, again every 250–500 ms) B waited 11–37 s. Now the first send put
// off once A's slots have been held a while takes A's whole due backlog along
// in one statement, and the queue reaches B's jobs.
import { createServer, type Socket } from 'node:net'
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, ruleBody } from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'
import { deliveryCounts, postLeads, quantiles, sleep, startService } from './helpers.js'

const CONCURRENCY = 50
const WORKSPACE_SHARE = CONCURRENCY / 2
const A_TIMEOUT_MS = 6_000

t.test('a hanging workspace does not hold up another', async (t) => {
  const { app, database } = await build(t)

  // A: accepts, reads, never answers.
  const hanging = new Set<Socket>()
  let mostOpen = 0
  let firstHungAt = 0
  const hang = createServer((socket) => {
    firstHungAt ||= Date.now()
    hanging.add(socket)
    mostOpen = Math.max(mostOpen, hanging.size)
    socket.on('close', () => hanging.delete(socket))
    socket.on('error', () => {})
    socket.resume()
  })
  await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of hanging) socket.destroy()
    hang.close()
  })
  const hangUrl = `http://127.0.0.1:${(hang.address() as { port: number }).port}`

  // B: answers at once; notes when each delivery arrived.
  const arrivedAt = new Map<string, number>()
  const fast = await startReceiver(t, (req, res) => {
    arrivedAt.set(String(req.headers['webhook-id']), Date.now())
    res.writeHead(200).end('ok')
  })

  const a = await createWorkspace(app, 'A')
  const b = await createWorkspace(app, 'B')
  for (let i = 0; i < 5; i++) {
    await createRule(
      app,
      a,
      ruleBody(`${hangUrl}/r${i}`, { execution: { timeout_ms: A_TIMEOUT_MS, max_attempts: 1 } }),
    )
  }
  await createRule(app, b, ruleBody(`${fast.url}/b`))
  const service = startService(t, database.url, {
    QUEUE_LEASE_MS: '2000',
    WORKER_CONCURRENCY: String(CONCURRENCY),
  })

  /** B posts `n` events in tens, a tenth of a second apart; answers each delivery's latency. */
  const streamB = async (n: number, prefix: string) => {
    const postedAt = new Map<string, number>()
    for (let i = 0; i < n; i += 10) {
      const at = Date.now()
      for (const id of await postLeads(app, b, 10, `${prefix}-${i}`)) postedAt.set(id, at)
      await sleep(100)
    }
    await eventually(() => [...postedAt.keys()].every((id) => arrivedAt.has(id)), 240_000)
    return [...postedAt].map(([id, at]) => (arrivedAt.get(id) ?? 0) - at)
  }

  await streamB(10, 'warmup')
  const quiet = await streamB(100, 'quiet')
  const aIds = await postLeads(app, a, 2000, 'A')
  t.equal(aIds.length, 10_000, 'A: 10,000 deliveries to a receiver that never answers')
  // Each of A's deliveries as queued: a new job id later means the worker took it and put it off.
  const { rows: queuedJobs } = await database.pool.query<{ id: string; job_id: number }>(
    'select id, job_id from deliveries where workspace_id = $1',
    [a.id],
  )
  const firstJob = new Map(queuedJobs.map((r) => [r.id, r.job_id]))
  await eventually(() => hanging.size >= 10, 120_000)
  const noisy = await streamB(100, 'noisy')

  const lastB = Math.max(...arrivedAt.values())
  const aCounts = await deliveryCounts(database, a.id)
  // The receiver has every one of B's; each outcome is written just after its answer.
  const bCounts = await eventually(async () => {
    const counts = await deliveryCounts(database, b.id)
    return counts.succeeded === 210 ? counts : undefined
  }, 30_000).catch(() => deliveryCounts(database, b.id))
  t.match(bCounts, { succeeded: 210, total: 210 }, 'B: every delivery went out')
  // A's sends time out after 6 s: B must be through before the first of them does.
  t.equal(
    aCounts.succeeded + aCounts.failed,
    0,
    'B was through before any of A’s attempts had timed out',
  )
  const { rows: now } = await database.pool.query<{ id: string; job_id: number }>(
    'select id, job_id from deliveries where workspace_id = $1',
    [a.id],
  )
  const touched = now.filter((r) => firstJob.get(r.id) !== r.job_id).length
  // Put off job by job (a new job id) only while A's slots had not been held
  // long, and the few claimed with each move: not A's backlog (9,975 before the fix).
  t.ok(touched < 2_000, `few of A's were taken and put off one by one (${touched})`)
  const backlogMoves = service.lines.filter((l) => l.includes('backlog put off at its cap')).length
  t.ok(backlogMoves > 0, 'A’s backlog was put off in bulk')
  t.ok(mostOpen <= WORKSPACE_SHARE, `A never held more than half the slots (${mostOpen})`)
  const q0 = quantiles(quiet)
  const q1 = quantiles(noisy)
  t.comment(
    `figures: B latency alone p50 ${q0.p50} ms p95 ${q0.p95} ms max ${q0.max} ms; ` +
      `beside A's 10,000 hanging p50 ${q1.p50} ms p95 ${q1.p95} ms max ${q1.max} ms; ` +
      `A held at most ${mostOpen} connections; A queued ${aCounts.queued}, delivering ${aCounts.delivering}; ` +
      `${touched} of A's taken and put off one by one; A's backlog put off in bulk ${backlogMoves} times; ` +
      `B's last arrived ${lastB - firstHungAt} ms after A's first send (A times out at ${A_TIMEOUT_MS} ms)`,
  )
})
