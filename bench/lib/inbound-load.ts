/**
 * The inbound benchmark's load generator, run in its own process (see
 * inbound.ts) so the server's CPU and the sender's are not one event loop.
 * Closed loop (`connections` senders back to back: throughput) or open loop
 * (a fixed rate; latency counts from when a request was due, so a stalled
 * server cannot hide its queue: no coordinated omission).
 */
import { randomBytes } from 'node:crypto'
import { connect as netConnect } from 'node:net'
import { type buildConnector, Pool } from 'undici'

export interface LoadSpec {
  origin: string
  mode: 'closed' | 'open'
  connections: number
  durationMs: number
  /** Open loop: requests per second. */
  rate?: number
  /** Open loop: requests past this many in flight are not sent (counted as skipped), so a flood cannot queue without bound in the generator. */
  maxInFlight?: number
  /**
   * `lead`: a JSON lead to `path`, unique per request. `unknown`: a well-formed made-up token.
   * `bare`: GET `path`. `bare-json`: the same JSON lead as `lead`, POSTed to `path`.
   */
  target: 'lead' | 'unknown' | 'bare' | 'bare-json'
  path: string
  /** The source address to send from (any of 127.0.0.0/8 on loopback), so two senders differ by address. */
  localAddress?: string
  /** Answer every latency too, so results from several generators can be merged. */
  keepLatencies?: boolean
}

export interface LoadResult {
  sent: number
  skipped: number
  completed: number
  seconds: number
  statuses: Record<string, number>
  errors: number
  p50: number
  p99: number
  /** CPU seconds the generator itself used while sending (user + system). */
  cpuSeconds: number
  latencies?: number[]
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec
// undici's own connector does not take a source address; this one does.
const connectFrom =
  (localAddress: string): buildConnector.connector =>
  (options, callback) => {
    const socket = netConnect({ host: options.hostname, port: Number(options.port), localAddress })
    socket.setNoDelay(true)
    socket.once('connect', () => callback(null, socket)).once('error', (err) => callback(err, null))
    return socket
  }
const pool = new Pool(spec.origin, {
  connections: spec.connections,
  pipelining: 1,
  keepAliveTimeout: 30_000,
  ...(spec.localAddress ? { connect: connectFrom(spec.localAddress) } : {}),
})
const statuses: Record<string, number> = {}
const latencies: number[] = []
let sent = 0
let completed = 0
let errors = 0
let skipped = 0
let sequence = process.pid * 1_000_000

function requestOptions() {
  if (spec.target === 'bare') return { method: 'GET' as const, path: spec.path }
  if (spec.target === 'unknown') {
    return {
      method: 'POST' as const,
      path: `/in/hli_${randomBytes(24).toString('base64url')}`,
      headers: { 'content-type': 'application/json' },
      body: '{"email":"x@example.com"}',
    }
  }
  const n = sequence++
  // bare-json: the lead's own body and headers, so the bare floor parses what Hookline parses.
  return {
    method: 'POST' as const,
    path: spec.path,
    headers: { 'content-type': 'application/json' },
    body: `{"email":"lead${n}@example.com","name":"Lead ${n}","phone":"+1 555 010 ${String(n % 10000).padStart(4, '0')}","amount":"${n % 1000}.50","source":"bench"}`,
  }
}

async function one(dueAt: number) {
  sent++
  try {
    const res = await pool.request(requestOptions())
    await res.body.dump()
    statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
    completed++
  } catch {
    errors++
  }
  latencies.push(performance.now() - dueAt)
}

async function closed(end: number) {
  await Promise.all(
    Array.from({ length: spec.connections }, async () => {
      while (performance.now() < end) await one(performance.now())
    }),
  )
}

async function open(end: number) {
  const interval = 1000 / (spec.rate ?? 1)
  let due = performance.now()
  const inFlight = new Set<Promise<void>>()
  while (due < end) {
    const now = performance.now()
    while (due <= now && due < end) {
      due += interval
      if (inFlight.size >= (spec.maxInFlight ?? Number.POSITIVE_INFINITY)) {
        skipped++
        continue
      }
      const p = one(due - interval).finally(() => inFlight.delete(p))
      inFlight.add(p)
    }
    // A timer, not setImmediate: spinning would take a core from the server being measured.
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await Promise.all(inFlight)
}

const cpuAtStart = process.cpuUsage()
const started = performance.now()
const end = started + spec.durationMs
await (spec.mode === 'closed' ? closed(end) : open(end))
const seconds = (performance.now() - started) / 1000
const cpu = process.cpuUsage(cpuAtStart)
latencies.sort((a, b) => a - b)
const at = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? 0
const result: LoadResult = {
  sent,
  skipped,
  completed,
  seconds,
  statuses,
  errors,
  p50: at(50),
  p99: at(99),
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  ...(spec.keepLatencies ? { latencies } : {}),
}
await pool.close()
process.send?.({ result }, () => process.exit(0))
