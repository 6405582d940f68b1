// The load generator of `npm run bench:scale`, in its own process so its CPU
// is counted apart: posts `count` lead.created events (bench:deliver's
// workload) from number `from` on, `batch` per POST /v1/events/batch, tenant
// after tenant, round-robin over the API processes, `inFlight` batches at a
// time; at `rate` events/s when given (open loop: a batch goes at its time,
// late or not), else as fast as the API answers. Prints one JSON line:
// { posted, seconds, cpuSeconds }.
import { Agent, request } from 'undici'
import { leadEvent } from './deliver-workload.js'

interface Plan {
  apiUrls: string[]
  keys: string[]
  from: number
  count: number
  batch: number
  inFlight: number
  /** Events per second; 0: as fast as the API answers. */
  rate: number
}

const plan = JSON.parse(process.argv[2] ?? '{}') as Plan
const cpu0 = process.cpuUsage()
const agents = plan.apiUrls.map(
  () => new Agent({ connections: plan.inFlight, keepAliveTimeout: 60_000 }),
)
const started = performance.now()
let next = 0
let sent = 0

async function post(index: number, from: number, to: number) {
  const events = []
  for (let i = from; i < to; i++) events.push(leadEvent(plan.from + i))
  const res = await request(`${plan.apiUrls[index % plan.apiUrls.length]}/v1/events/batch`, {
    method: 'POST',
    dispatcher: agents[index % agents.length],
    headers: {
      authorization: `Bearer ${plan.keys[index % plan.keys.length]}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ events }),
  })
  const text = await res.body.text()
  if (res.statusCode !== 202) throw new Error(`POST /v1/events/batch: ${res.statusCode} ${text}`)
}

async function lane() {
  while (next < plan.count) {
    const from = next
    const index = sent++
    next = Math.min(plan.count, next + plan.batch)
    if (plan.rate > 0) {
      const due = started + (from / plan.rate) * 1000
      const wait = due - performance.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    }
    await post(index, from, next)
  }
}

await Promise.all(Array.from({ length: plan.inFlight }, lane))
const used = process.cpuUsage(cpu0)
await Promise.all(agents.map((a) => a.close()))
process.stdout.write(
  `${JSON.stringify({
    posted: plan.count,
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
  })}\n`,
)
