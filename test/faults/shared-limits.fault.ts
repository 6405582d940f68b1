// Limits across processes: one ROLE=api and three ROLE=worker processes on
// one database, with real receivers. A rule's rate limit and a host's cap
// hold across the workers together, every event is delivered exactly once
// while no process dies, and a worker killed with -9 mid-run (another
// started in its place) costs no delivery and breaks no cap.
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { send } from '../helpers/inbound.js'
import type { Workspace } from '../helpers/outbound.js'
import { createRule, ruleBody } from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'
import {
  deliveryCounts,
  kill9,
  type ServiceProcess,
  sleep,
  startService,
  webhookIds,
} from './helpers.js'

const RATE = 10
const HOST_CAP = 4
// Per worker: a rule may hold a fifth (4), a workspace half (10), a host HOST_CAP.
const worker = {
  WORKER_CONCURRENCY: '20',
  WORKER_CONCURRENCY_PER_HOST: String(HOST_CAP),
  QUEUE_LEASE_MS: '3000',
}

async function listeningAt(service: ServiceProcess): Promise<string> {
  const line = await service.waitForLine(/Server listening at http:\/\/127\.0\.0\.1:\d+/, 120_000)
  return /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!
}

/** Posts `count` events of `type` through the API process, in batches of 100. */
async function postThroughApi(
  api: string,
  ws: Workspace,
  type: string,
  count: number,
  prefix: string,
) {
  for (let from = 0; from < count; from += 100) {
    const events = Array.from({ length: Math.min(100, count - from) }, (_, i) => {
      const id = `${prefix}-${from + i}`
      return { type, record: { entity_type: 'lead', entity_id: id, fields: { lead: { id } } } }
    })
    const res = await send(`${api}/v1/events/batch`, {
      headers: { ...ws.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    })
    if (res.status !== 202) throw new Error(`post events: ${res.status} ${res.text}`)
  }
}

/** The most arrivals within any `windowMs` (times in ms, any order). */
function mostInAnyWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b)
  let most = 0
  let from = 0
  for (let to = 0; to < sorted.length; to++) {
    while (sorted[to]! - sorted[from]! >= windowMs) from++
    most = Math.max(most, to - from + 1)
  }
  return most
}

t.test('one API and three workers share the rate limit and the host cap', async (t) => {
  const { app, database } = await build(t)
  const api = startService(t, database.url, { ROLE: 'api' })
  const workers = [1, 2, 3].map(() => startService(t, database.url, worker))
  const base = await listeningAt(api)
  await Promise.all(workers.map(listeningAt))

  // A fast receiver for a rate-limited rule.
  const arrivals: number[] = []
  const fast = await startReceiver(t, (_req, res) => {
    arrivals.push(Date.now())
    res.writeHead(200).end('ok')
  })
  // A slow host that two workspaces' rules send to: its cap binds, not theirs.
  const slow = await startReceiver(t, (_req, res) => {
    setTimeout(() => res.writeHead(200).end('ok'), 300)
  })
  const a = await createWorkspace(app, 'A')
  const b = await createWorkspace(app, 'B')
  await createRule(
    app,
    a,
    ruleBody(`${fast.url}/rated`, {
      event_types: ['lead.rated'],
      execution: { rate_limit_per_second: RATE },
    }),
  )
  await createRule(app, a, ruleBody(`${slow.url}/a`, { event_types: ['lead.slow'] }))
  await createRule(app, b, ruleBody(`${slow.url}/b`, { event_types: ['lead.slow'] }))

  await t.test('rate limit and host cap, exactly once while no process dies', async (t) => {
    const SLOW = 80
    await postThroughApi(base, a, 'lead.slow', SLOW / 2, 'SA')
    await postThroughApi(base, b, 'lead.slow', SLOW / 2, 'SB')
    // The rated rule's events come as a stream at three times its rate (a
    // burst alone would be paced by the spacing of its backlog), so each
    // worker finds due jobs of it all along.
    let RATED = 0
    for (let i = 0; i < 12; i++) {
      const at = Date.now()
      await postThroughApi(base, a, 'lead.rated', RATE * 3, `R${i}`)
      RATED += RATE * 3
      await sleep(Math.max(0, 1000 - (Date.now() - at)))
    }
    await eventually(
      async () => (await deliveryCounts(database)).succeeded === RATED + SLOW,
      240_000,
    )

    const seen = webhookIds([...fast.received, ...slow.received])
    t.equal(seen.size, RATED + SLOW, 'every delivery reached its receiver')
    t.same(
      [...seen.values()].filter((n) => n > 1),
      [],
      'none twice',
    )
    const most = mostInAnyWindow(arrivals, 10_000)
    t.comment(`figures: most rated arrivals in any 10 s: ${most} (rate × 10 = ${RATE * 10})`)
    t.ok(most <= RATE * 10 * 1.1, `at most 10% over the rate in any 10 s window (${most})`)
    t.ok(
      slow.mostOpen() <= HOST_CAP,
      `the slow host never had more than ${HOST_CAP} requests open (${slow.mostOpen()})`,
    )
    t.ok(slow.mostOpen() >= 2, 'while more than one worker sent there')
  })

  await t.test('a worker killed with -9 mid-run, another started: no delivery lost', async (t) => {
    const before = (await deliveryCounts(database)).succeeded
    const receivedBefore = slow.received.length
    const SLOW = 120
    await postThroughApi(base, a, 'lead.slow', SLOW / 2, 'KA')
    await postThroughApi(base, b, 'lead.slow', SLOW / 2, 'KB')
    await eventually(() => slow.received.length >= receivedBefore + SLOW / 4, 120_000)
    await kill9(workers[0]!)
    const replacement = startService(t, database.url, worker)
    await listeningAt(replacement)
    await eventually(
      async () => (await deliveryCounts(database)).succeeded === before + SLOW,
      240_000,
    )
    const counts = await deliveryCounts(database)
    t.match(counts, { failed: 0, queued: 0, delivering: 0 }, 'every delivery succeeded')
    const ids = webhookIds(slow.received.slice(receivedBefore))
    t.equal(ids.size, SLOW, 'each reached the receiver')
    t.ok(
      slow.mostOpen() <= HOST_CAP,
      `the host cap held through the kill and the start (${slow.mostOpen()})`,
    )
  })
})
