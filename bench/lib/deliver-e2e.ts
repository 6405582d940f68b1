import { performance } from 'node:perf_hooks'
import { makeWorkerUtils } from 'graphile-worker'
import { type Hookline, type HooklineOptions, startHookline } from './deliver-hookline.js'
import { runBare, startGraphile } from './deliver-peers.js'
import { type Receiver, sleep } from './deliver-receiver-client.js'
import { type LeadEvent, leadEvent } from './deliver-workload.js'
import { type BenchPostgres, machineBusySeconds } from './postgres.js'
import { round } from './stats.js'

/**
 * Measurement 1 of `npm run bench:deliver`, one sender per function: `n`
 * deliveries end to end after `warmup` untimed ones (connections opened,
 * code compiled, as in a service that has been running), each in a fresh
 * database and fresh processes. Each answers deliveries per second and a
 * line with what it saw.
 */
export interface E2eRun {
  pg: BenchPostgres
  receiver: Receiver
  n: number
  warmup: number
  concurrency: number
  /** Events per POST /v1/events/batch or jobs per addJobs. */
  batch: number
  /** Batches in flight while ingesting. */
  inFlight: number
}

export interface E2eResult {
  dps: number
  /** CPU µs per delivery over the timed part: every process on the machine, and PostgreSQL's share of it. */
  cpu: { total: number; postgres: number }
  detail: string
  conditions?: string
}

export const dps = (n: number, seconds: number) => Math.round(n / seconds)

/**
 * CPU spent from now until the returned function is called, per delivery: the whole
 * machine's busy time (sender, receiver, PostgreSQL, this process) and
 * PostgreSQL's part. Wall-clock rates on a shared host swing with the
 * neighbours; CPU per delivery barely does, and on two cores it is what
 * sets the ratio between the senders.
 */
function cpuMeter(pg: BenchPostgres) {
  const machine0 = machineBusySeconds()
  const postgres0 = pg.cpuSeconds()
  return (n: number) => ({
    total: Math.round(((machineBusySeconds() - machine0) * 1e6) / n),
    postgres: Math.round(((pg.cpuSeconds() - postgres0) * 1e6) / n),
  })
}

const cpuDetail = (cpu: E2eResult['cpu']) =>
  `; CPU ${cpu.total} µs/delivery, PostgreSQL ${cpu.postgres} of it`

/** Sends items `[0, total)` through `send`, `inFlight` batches at a time, in order. */
export async function inBatches(
  total: number,
  run: Pick<E2eRun, 'batch' | 'inFlight'>,
  send: (from: number, to: number) => Promise<void>,
) {
  let next = 0
  await Promise.all(
    Array.from({ length: run.inFlight }, async () => {
      while (next < total) {
        const from = next
        next = Math.min(total, next + run.batch)
        await send(from, next)
      }
    }),
  )
}

export const events = (from: number, to: number): LeadEvent[] =>
  Array.from({ length: to - from }, (_, k) => leadEvent(from + k))

/** Waits for the receiver to count `n`, then for `queueEmpty` (outcomes recorded). */
export async function finished(receiver: Receiver, n: number, queueEmpty: () => Promise<boolean>) {
  await receiver.waitForCount(n)
  while (!(await queueEmpty())) await sleep(20)
  return performance.now()
}

export async function deliveryJobsGone(hl: Hookline): Promise<boolean> {
  const { rows } = await hl.query(
    `select not exists (select 1 from jobs where kind = 'delivery.send') as empty`,
  )
  return rows[0].empty
}

export const dropDatabase = (pg: BenchPostgres, name: string) =>
  pg.query('postgres', `drop database if exists ${name} with (force)`)

/** Hookline: ingest through the API while the worker drains; done when every delivery job is gone. */
export async function e2eHookline(
  run: E2eRun,
  options: Omit<HooklineOptions, 'databaseUrl'>,
  name: string,
): Promise<E2eResult> {
  const { pg, receiver, n } = run
  const hl = await startHookline({
    ...options,
    databaseUrl: await pg.createDatabase(name),
    receiverUrl: receiver.url,
    withWorker: true,
  })
  try {
    await receiver.reset()
    await inBatches(run.warmup, run, (from, to) => hl.postBatch(events(from, to)))
    await finished(receiver, run.warmup, () => deliveryJobsGone(hl))
    await pg.settle(name)
    await receiver.reset()
    const meter = cpuMeter(pg)
    const started = performance.now()
    await inBatches(n, run, (from, to) => hl.postBatch(events(from, to)))
    const ingested = performance.now()
    const seconds = ((await finished(receiver, n, () => deliveryJobsGone(hl))) - started) / 1000
    const cpu = meter(n)
    const { rows } = await hl.query(
      'select status, count(*)::int as n from deliveries group by status order by status',
    )
    const { seen } = await receiver.count()
    return {
      dps: dps(n, seconds),
      cpu,
      detail:
        `${round(seconds, 2)} s; ingest ${dps(n, (ingested - started) / 1000)} events/s; ` +
        `receiver saw ${seen}; deliveries ${rows.map((x) => `${x.status} ${x.n}`).join(', ')} ` +
        `(${run.warmup} of them warm-up)${cpuDetail(cpu)}`,
    }
  } finally {
    await hl.stop()
    await dropDatabase(pg, name)
  }
}

/** The bare loop: the physical limit of this receiver on this machine. */
export async function e2eBare(run: E2eRun): Promise<E2eResult> {
  const { receiver, n } = run
  let meter: ReturnType<typeof cpuMeter> | undefined
  const bare = await runBare(receiver.url, run.concurrency, { warmup: run.warmup, total: n }, () =>
    receiver.reset().then(() => {
      meter = cpuMeter(run.pg)
    }),
  )
  if (!meter) throw new Error('bare peer: the timed run started without its CPU meter')
  const cpu = meter(n)
  const { seen } = await receiver.count()
  return {
    dps: dps(n, bare.seconds),
    cpu,
    detail:
      `${round(bare.seconds, 2)} s; undici.request loop, ${run.concurrency} at a time; ` +
      `receiver saw ${seen}, failed ${bare.failed}${cpuDetail(cpu)}`,
  }
}

/** graphile-worker: the same POSTs as jobs, added `batch` per addJobs while the runner works. */
export async function e2eGraphile(run: E2eRun, name: string): Promise<E2eResult> {
  const { pg, receiver, n } = run
  const db = await pg.createDatabase(name)
  const runner = await startGraphile(db, receiver.url, run.concurrency)
  const utils = await makeWorkerUtils({ connectionString: db })
  const add = (from: number, to: number) =>
    utils
      .addJobs(events(from, to).map((event) => ({ identifier: 'deliver', payload: { event } })))
      .then(() => undefined)
  const queueEmpty = async () => {
    const { rows } = await pg.query(
      name,
      'select count(*)::int as n from graphile_worker._private_jobs',
    )
    return rows[0].n === 0
  }
  let stopped: { ran: number; failed: number } | undefined
  try {
    await receiver.reset()
    await inBatches(run.warmup, run, add)
    await finished(receiver, run.warmup, queueEmpty)
    await pg.settle(name)
    await receiver.reset()
    const meter = cpuMeter(pg)
    const started = performance.now()
    await inBatches(n, run, add)
    const ingested = performance.now()
    const seconds = ((await finished(receiver, n, queueEmpty)) - started) / 1000
    const cpu = meter(n)
    const { seen } = await receiver.count()
    stopped = await runner.stop()
    return {
      dps: dps(n, seconds),
      cpu,
      detail:
        `${round(seconds, 2)} s; addJobs ${dps(n, (ingested - started) / 1000)} jobs/s; ` +
        `receiver saw ${seen}; tasks ran ${stopped.ran} (${run.warmup} warm-up), failed ${stopped.failed}` +
        cpuDetail(cpu),
      conditions: runner.conditions,
    }
  } finally {
    await utils.release()
    if (!stopped) await runner.stop().catch(() => {})
    await dropDatabase(pg, name)
  }
}
