// Fault 7: workspace A's receiver accepts and never answers, with 10,000
// deliveries queued for it; workspace B's deliveries still go out while A's
// backlog stands, and A never holds more than its share of the slots.
import { createServer, type Socket } from 'node:net'
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, ruleBody } from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'
import { deliveryCounts, postLeads, quantiles, sleep, startService } from './helpers.js'

const CONCURRENCY = 50
const WORKSPACE_SHARE = CONCURRENCY / 2

t.test('a hanging workspace does not hold up another', async (t) => {
  const { app, database } = await build(t)

  // A: accepts, reads, never answers.
  const hanging = new Set<Socket>()
  let mostOpen = 0
  const hang = createServer((socket) => {
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
      ruleBody(`${hangUrl}/r${i}`, { execution: { timeout_ms: 60_000, max_attempts: 1 } }),
    )
  }
  await createRule(app, b, ruleBody(`${fast.url}/b`))
  startService(t, database.url, {
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

  const aCounts = await deliveryCounts(database, a.id)
  const bCounts = await deliveryCounts(database, b.id)
  t.match(bCounts, { succeeded: 210, total: 210 }, 'B: every delivery went out')
  // A's sends time out after 60 s: B must be through before the first of them does.
  t.equal(aCounts.succeeded + aCounts.failed, 0, 'B was through while none of A’s had finished')
  const { rows: now } = await database.pool.query<{ id: string; job_id: number }>(
    'select id, job_id from deliveries where workspace_id = $1',
    [a.id],
  )
  const touched = now.filter((r) => firstJob.get(r.id) !== r.job_id).length
  // Open finding (RELIABILITY.md, issue #6): claims take A's due backlog in
  // order and defer it job by job before reaching B, so B's latency grows.
  // Measured here and reported below; asserting it belongs to the fix.
  t.ok(mostOpen <= WORKSPACE_SHARE, `A never held more than half the slots (${mostOpen})`)
  const q0 = quantiles(quiet)
  const q1 = quantiles(noisy)
  t.comment(
    `figures: B latency alone p50 ${q0.p50} ms p95 ${q0.p95} ms max ${q0.max} ms; ` +
      `beside A's 10,000 hanging p50 ${q1.p50} ms p95 ${q1.p95} ms max ${q1.max} ms; ` +
      `A held at most ${mostOpen} connections; A queued ${aCounts.queued}, delivering ${aCounts.delivering}; ${touched} of A's taken and put off`,
  )
})
