/**
 * `npm run bench:deliver` (`-- --quick` for measurements 1–3 with fewer
 * events): issue 4's delivery benchmark, on one throw-away PostgreSQL.
 * Hookline runs as it is deployed (an API process and a worker process from
 * src/server.ts); the receiver, the bare undici loop and the graphile-worker
 * sender each run in their own process. Figures go to stdout with their
 * conditions and, for a full run, to bench/results/deliver.json.
 *
 * `--only=e2e,latency,slow,drain` runs a subset (for profiling; nothing written).
 */
import { writeFile } from 'node:fs/promises'
import { cpus, loadavg, totalmem } from 'node:os'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { makeWorkerUtils } from 'graphile-worker'
import { queueDeliveries, sampleRss } from './lib/deliver-drain.js'
import { type Hookline, startHookline } from './lib/deliver-hookline.js'
import { runBare, startGraphile } from './lib/deliver-peers.js'
import { monotonicMs, type Receiver, sleep, startReceiver } from './lib/deliver-receiver-client.js'
import { type LeadEvent, leadEvent } from './lib/deliver-workload.js'
import { type BenchPostgres, postgresSettings, startBenchPostgres } from './lib/postgres.js'
import { median, percentile, round } from './lib/stats.js'

const quick = process.argv.includes('--quick')
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
const size = quick
  ? { events: 10_000, rounds: 1, latency: 300, slowSeconds: 8, drain: 0 }
  : { events: 100_000, rounds: 3, latency: 1_000, slowSeconds: 20, drain: 1_000_000 }
const wants = (part: string) => (only ? only.includes(part) : part !== 'drain' || !quick)

// One concurrency for every sender: Hookline's WORKER_CONCURRENCY default.
const CONCURRENCY = 50
const POOL_SIZE = 20
const BATCH = 1_000
// Batches in flight while ingesting (Hookline's POST /v1/events/batch, graphile's addJobs).
const INGEST_IN_FLIGHT = 2
const SLOW_MS = 100

const log = (line = '') => process.stdout.write(`${line}\n`)
const dps = (n: number, seconds: number) => Math.round(n / seconds)
const hooklineOptions = { workerConcurrency: CONCURRENCY, databasePoolSize: POOL_SIZE }

async function main() {
  const began = Date.now()
  const pg = await startBenchPostgres()
  const receiver = await startReceiver()
  try {
    const { rows } = await pg.query('postgres', 'show server_version')
    log(`# Delivery benchmark${quick ? ' (--quick: fewer events, no drain, not written)' : ''}`)
    log(
      `machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${round(totalmem() / 2 ** 30)} GiB, ` +
        `load ${loadavg()
          .map((l) => round(l, 1))
          .join('/')}; Node ${process.version}; ` +
        `PostgreSQL ${rows[0].server_version} (embedded, same host)`,
    )
    log(`postgres settings: ${JSON.stringify(postgresSettings)}`)
    log(
      `Hookline: API process (ROLE=api) + worker process (ROLE=worker), WORKER_CONCURRENCY ${CONCURRENCY}, ` +
        `DATABASE_POOL_SIZE ${POOL_SIZE}, LOG_LEVEL warn; one workspace, one rule (POST, six JSON pairs, signed)`,
    )
    log(
      `receiver: node:http in its own process on 127.0.0.1, answers 200 after reading the body; ` +
        `events ingested ${BATCH} per POST /v1/events/batch, ${INGEST_IN_FLIGHT} in flight\n`,
    )
    const result: Record<string, number> = {}
    if (wants('e2e')) Object.assign(result, await endToEnd(pg, receiver))
    if (wants('latency')) Object.assign(result, await latency(pg, receiver))
    if (wants('slow')) Object.assign(result, await slowReceiver(pg, receiver))
    if (wants('drain')) Object.assign(result, await drain(pg, receiver))

    log(`\ntotal time ${round((Date.now() - began) / 1000)} s`)
    log(JSON.stringify(result, null, 2))
    if (!quick && !only) {
      const file = fileURLToPath(new URL('./results/deliver.json', import.meta.url))
      await writeFile(file, `${JSON.stringify(result, null, 2)}\n`)
      log(`written to ${file}`)
    }
  } finally {
    await receiver.stop()
    await pg.stop()
  }
}

/** Sends `total` items through `send`, `inFlight` batches at a time, in order. */
async function inBatches(total: number, send: (from: number, to: number) => Promise<void>) {
  let next = 0
  await Promise.all(
    Array.from({ length: INGEST_IN_FLIGHT }, async () => {
      while (next < total) {
        const from = next
        next = Math.min(total, next + BATCH)
        await send(from, next)
      }
    }),
  )
}

const events = (from: number, to: number): LeadEvent[] =>
  Array.from({ length: to - from }, (_, k) => leadEvent(from + k))

/** Waits for the receiver to count `n`, then for `queueEmpty` (outcomes recorded). */
async function finished(receiver: Receiver, n: number, queueEmpty: () => Promise<boolean>) {
  await receiver.waitForCount(n)
  while (!(await queueEmpty())) await sleep(20)
  return performance.now()
}

/** 1: end to end, each peer `rounds` times in alternation, fresh database and processes each time. */
async function endToEnd(pg: BenchPostgres, receiver: Receiver) {
  const n = size.events
  log(
    `## 1. End to end: ${n.toLocaleString('en')} events → ${n.toLocaleString('en')} deliveries, ` +
      `concurrency ${CONCURRENCY}; ${size.rounds} round(s), peers alternating, medians`,
  )
  const figures: Record<'hookline' | 'bare' | 'graphile', number[]> = {
    hookline: [],
    bare: [],
    graphile: [],
  }
  let graphileConditions = ''
  for (let r = 0; r < size.rounds; r++) {
    // Hookline: ingest through the API while the worker drains; done when every job is gone.
    {
      const db = await pg.createDatabase(`bench_deliver_e2e_${r}`)
      const hl = await startHookline({
        ...hooklineOptions,
        databaseUrl: db,
        receiverUrl: receiver.url,
        withWorker: true,
      })
      await pg.settle(`bench_deliver_e2e_${r}`)
      await receiver.reset()
      const started = performance.now()
      let ingested = 0
      await inBatches(n, (from, to) => hl.postBatch(events(from, to)))
      ingested = performance.now()
      const ended = await finished(receiver, n, () => jobsGone(hl))
      const seconds = (ended - started) / 1000
      const { rows } = await hl.query(
        'select status, count(*)::int as n from deliveries group by status order by status',
      )
      const seen = (await receiver.count()).seen
      figures.hookline.push(dps(n, seconds))
      log(
        `round ${r + 1} hookline  ${String(dps(n, seconds)).padStart(6)} deliveries/s ` +
          `(${round(seconds, 2)} s; ingest ${dps(n, (ingested - started) / 1000)} events/s; ` +
          `receiver saw ${seen}; deliveries ${rows.map((x) => `${x.status} ${x.n}`).join(', ')})`,
      )
      await hl.stop()
      await dropDatabase(pg, `bench_deliver_e2e_${r}`)
    }
    // The bare loop: the physical limit of this receiver on this machine.
    {
      await receiver.reset()
      const bare = await runBare(receiver.url, CONCURRENCY, n)
      figures.bare.push(dps(n, bare.seconds))
      log(
        `round ${r + 1} bare      ${String(dps(n, bare.seconds)).padStart(6)} deliveries/s ` +
          `(${round(bare.seconds, 2)} s; undici.request loop, ${CONCURRENCY} at a time, failed ${bare.failed})`,
      )
    }
    // graphile-worker: the same POSTs as jobs, added 1,000 per addJobs while the runner works.
    {
      const name = `bench_deliver_graphile_${r}`
      const db = await pg.createDatabase(name)
      const runner = await startGraphile(db, receiver.url, CONCURRENCY)
      graphileConditions = runner.conditions
      const utils = await makeWorkerUtils({ connectionString: db })
      await pg.settle(name)
      await receiver.reset()
      const started = performance.now()
      await inBatches(n, (from, to) =>
        utils
          .addJobs(events(from, to).map((event) => ({ identifier: 'deliver', payload: { event } })))
          .then(() => undefined),
      )
      const ingested = performance.now()
      const ended = await finished(receiver, n, async () => {
        const { rows } = await pg.query(
          name,
          'select count(*)::int as n from graphile_worker._private_jobs',
        )
        return rows[0].n === 0
      })
      const seconds = (ended - started) / 1000
      await utils.release()
      const stopped = await runner.stop()
      const seen = (await receiver.count()).seen
      figures.graphile.push(dps(n, seconds))
      log(
        `round ${r + 1} graphile  ${String(dps(n, seconds)).padStart(6)} deliveries/s ` +
          `(${round(seconds, 2)} s; addJobs ${dps(n, (ingested - started) / 1000)} jobs/s; ` +
          `receiver saw ${seen}; tasks ran ${stopped.ran}, failed ${stopped.failed})`,
      )
      await dropDatabase(pg, name)
    }
  }
  const hook = median(figures.hookline)
  const bare = median(figures.bare)
  const graphile = median(figures.graphile)
  log(`graphile: ${graphileConditions}`)
  log(
    `medians: hookline ${hook}, bare undici ${bare}, graphile ${graphile} deliveries/s; ` +
      `hookline/bare ${round(hook / bare, 3)} (target ≥ 0.30), hookline/graphile ${round(hook / graphile, 2)}× (target ≥ 1.2)\n`,
  )
  return { e2e_dps_hookline: hook, e2e_dps_bare_undici: bare, e2e_dps_graphile: graphile }
}

const dropDatabase = (pg: BenchPostgres, name: string) =>
  pg.query('postgres', `drop database if exists ${name} with (force)`)

async function jobsGone(hl: Hookline): Promise<boolean> {
  const { rows } = await hl.query(
    `select not exists (select 1 from jobs where kind = 'delivery.send') as empty`,
  )
  return rows[0].empty
}

/** 2: one event at a time; POST sent → receiver saw the request (same monotonic clock). */
async function latency(pg: BenchPostgres, receiver: Receiver) {
  const count = size.latency
  const warmup = 50
  log(
    `## 2. Unloaded latency: ${count} events one at a time (after ${warmup} to warm up), 10 ms apart`,
  )
  const db = await pg.createDatabase('bench_deliver_latency')
  const hl = await startHookline({
    ...hooklineOptions,
    databaseUrl: db,
    receiverUrl: receiver.url,
    withWorker: true,
  })
  await pg.settle('bench_deliver_latency')
  receiver.configure({ delayMs: 0, trace: true })
  const seenAt = new Map<string, number>()
  let waiting: { id: string; resolve: () => void } | undefined
  const off = receiver.onSeen((id, atMs) => {
    seenAt.set(id, atMs)
    if (waiting?.id === id) waiting.resolve()
  })
  const fromSend: number[] = []
  const fromAnswer: number[] = []
  for (let i = 0; i < warmup + count; i++) {
    const sent = monotonicMs()
    const { deliveryId } = await hl.postOne(leadEvent(i))
    const answered = monotonicMs()
    if (!seenAt.has(deliveryId)) {
      await new Promise<void>((resolve) => {
        waiting = { id: deliveryId, resolve }
      })
    }
    const seen = seenAt.get(deliveryId)!
    if (i >= warmup) {
      fromSend.push(seen - sent)
      fromAnswer.push(seen - answered)
    }
    await sleep(10)
  }
  off()
  receiver.configure({ delayMs: 0, trace: false })
  await hl.stop()
  await dropDatabase(pg, 'bench_deliver_latency')
  const p50 = round(percentile(fromSend, 50), 2)
  const p99 = round(percentile(fromSend, 99), 2)
  log(
    `POST /v1/events sent → receiver saw it: p50 ${p50} ms, p99 ${p99} ms, max ${round(Math.max(...fromSend), 2)} ms (target p50 ≤ 5, p99 ≤ 20)`,
  )
  log(
    `202 answer received → receiver saw it: p50 ${round(percentile(fromAnswer, 50), 2)} ms, ` +
      `p99 ${round(percentile(fromAnswer, 99), 2)} ms (negative: the delivery arrived before the answer)\n`,
  )
  return { latency_p50_ms: p50, latency_p99_ms: p99 }
}

/** 3: the receiver answers after 100 ms; how close to concurrency ÷ 0.1 s does Hookline get? */
async function slowReceiver(pg: BenchPostgres, receiver: Receiver) {
  const ideal = CONCURRENCY / (SLOW_MS / 1000)
  const n = ideal * size.slowSeconds
  log(
    `## 3. Slow receiver (answers after ${SLOW_MS} ms): ${n.toLocaleString('en')} events, ` +
      `WORKER_CONCURRENCY ${CONCURRENCY} (ideal ${ideal} deliveries/s)`,
  )
  const db = await pg.createDatabase('bench_deliver_slow')
  const hl = await startHookline({
    ...hooklineOptions,
    databaseUrl: db,
    receiverUrl: receiver.url,
    withWorker: true,
  })
  await pg.settle('bench_deliver_slow')
  await receiver.reset()
  receiver.configure({ delayMs: SLOW_MS, trace: false })
  const inflight: number[] = []
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      await sleep(250)
      inflight.push((await receiver.count()).inflight)
    }
  })()
  const started = performance.now()
  await inBatches(n, (from, to) => hl.postBatch(events(from, to)))
  const ended = await finished(receiver, n, () => jobsGone(hl))
  sampling = false
  await sampler
  receiver.configure({ delayMs: 0, trace: false })
  const seconds = (ended - started) / 1000
  const rate = dps(n, seconds)
  await hl.stop()
  await dropDatabase(pg, 'bench_deliver_slow')
  // The middle of the run: the ingest's start and the drain's tail left out.
  const middle = inflight.slice(Math.floor(inflight.length * 0.2), Math.ceil(inflight.length * 0.8))
  log(
    `hookline ${rate} deliveries/s (${round(seconds, 2)} s), ${round(rate / ideal, 2)} of ideal; ` +
      `requests in flight at the receiver: median ${median(middle)}, max ${Math.max(...inflight)}\n`,
  )
  return { slow_receiver_dps: rate, slow_receiver_concurrency: CONCURRENCY }
}

/** 4: 1,000,000 deliveries queued, then one worker process drains them; its RSS sampled. */
async function drain(pg: BenchPostgres, receiver: Receiver) {
  const n = size.drain || 100_000
  log(
    `## 4. Drain: ${n.toLocaleString('en')} queued deliveries, one worker process, RSS every 250 ms`,
  )
  const db = await pg.createDatabase('bench_deliver_drain')
  const hl = await startHookline({
    ...hooklineOptions,
    databaseUrl: db,
    receiverUrl: receiver.url,
    withWorker: false,
  })
  const { rows } = await hl.query('select workspace_id from rules where id = $1', [hl.ruleId])
  const queuing = performance.now()
  await queueDeliveries(hl.query, {
    workspaceId: rows[0].workspace_id,
    ruleId: hl.ruleId,
    total: n,
  })
  log(
    `queued in ${round((performance.now() - queuing) / 1000, 1)} s (SQL, scheduleDeliveries' shape)`,
  )
  await pg.settle('bench_deliver_drain')
  await receiver.reset()
  const started = performance.now()
  const worker = await hl.startWorker()
  const rss = sampleRss(worker.pid)
  const ended = await finished(receiver, n, () => jobsGone(hl))
  const samples = rss.stop()
  const seconds = (ended - started) / 1000
  await hl.stop()
  await dropDatabase(pg, 'bench_deliver_drain')
  const peak = round(Math.max(...samples))
  const tenth = Math.floor(samples.length / 10)
  log(
    `drained in ${round(seconds, 1)} s (${dps(n, seconds)} deliveries/s); worker RSS: peak ${peak} MiB, ` +
      `first tenth median ${round(median(samples.slice(0, tenth)))} MiB, last tenth median ` +
      `${round(median(samples.slice(-tenth)))} MiB (target peak ≤ 300, flat)\n`,
  )
  return { drain_peak_rss_mb: peak }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`benchmark failed: ${err?.stack ?? err}\n`)
    process.exit(1)
  },
)
