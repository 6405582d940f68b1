import { performance } from 'node:perf_hooks'
import { makeWorkerUtils } from 'graphile-worker'
import { Agent, request } from 'undici'
import { cpuMeter } from './cpu.js'
import { type Hookline, type HooklineOptions, startHookline } from './deliver-hookline.js'
import { runBare, startGraphile, startGraphileFront } from './deliver-peers.js'
import { type Receiver, sleep } from './deliver-receiver-client.js'
import { type LeadEvent, leadEvent } from './deliver-workload.js'
import { type BenchPostgres, HISTORY_BYTES_SQL, machineBusySeconds } from './postgres.js'
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
  /**
   * CPU µs per delivery over the timed part, per process tree (not the whole
   * machine): `total` is the sender's own processes and, where it uses one, its
   * PostgreSQL; `postgres` that cluster's part of it; `receiver` the receiver's
   * process; `machine` the whole machine's busy time, neighbours included.
   */
  cpu: { total: number; postgres: number; receiver: number; machine: number }
  /** Hookline only: CPU µs per delivery of its API process and of its worker process. */
  roles?: { api: number; worker: number }
  detail: string
  conditions?: string
  /** Hookline only: WAL written over the timed part, and the history tables' size after it. */
  storage?: { walBytesPerDelivery: number; heapIndexBytesPerDelivery: number }
}

export const dps = (n: number, seconds: number) => Math.round(n / seconds)

const perDelivery = (seconds: number, n: number) => Math.round((seconds * 1e6) / n)

/**
 * Meters the sender's processes (`sender`), its PostgreSQL and the receiver
 * from now until the returned function is called with the deliveries made.
 */
function meter(run: E2eRun, sender: () => readonly number[], usesPostgres: boolean) {
  const machine0 = machineBusySeconds()
  const trees = cpuMeter({
    sender,
    postgres: () => (usesPostgres ? [run.pg.pid()] : []),
    receiver: () => [run.receiver.pid],
  })
  return (n: number, extraSenderSeconds = 0): E2eResult['cpu'] => {
    const used = trees.read()
    return {
      total: perDelivery(used.sender + used.postgres + extraSenderSeconds, n),
      postgres: perDelivery(used.postgres, n),
      receiver: perDelivery(used.receiver, n),
      machine: perDelivery(machineBusySeconds() - machine0, n),
    }
  }
}

const cpuDetail = (cpu: E2eResult['cpu']) =>
  `; CPU per delivery: ${cpu.total} µs (PostgreSQL ${cpu.postgres} of it), receiver ${cpu.receiver}, ` +
  `whole machine ${cpu.machine}`

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

const currentWal = async (hl: Hookline): Promise<string> =>
  (await hl.query('select pg_current_wal_insert_lsn()::text as lsn')).rows[0].lsn

async function walSince(hl: Hookline, lsn: string): Promise<number> {
  const { rows } = await hl.query(
    'select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::float8 as bytes',
    [lsn],
  )
  return rows[0].bytes
}

/** Heap, TOAST and indexes of the tables that keep history, partitions included. */
async function historyBytes(hl: Hookline): Promise<number> {
  const { rows } = await hl.query(HISTORY_BYTES_SQL)
  return rows[0].bytes
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
    const cpuOf = meter(run, () => [hl.api.pid, ...(hl.worker ? [hl.worker.pid] : [])], true)
    const roleCpu = cpuMeter({
      api: () => [hl.api.pid],
      worker: () => (hl.worker ? [hl.worker.pid] : []),
    })
    const walBefore = await currentWal(hl)
    const started = performance.now()
    await inBatches(n, run, (from, to) => hl.postBatch(events(from, to)))
    const ingested = performance.now()
    const seconds = ((await finished(receiver, n, () => deliveryJobsGone(hl))) - started) / 1000
    const cpu = cpuOf(n)
    const byRole = roleCpu.read()
    const roles = { api: perDelivery(byRole.api, n), worker: perDelivery(byRole.worker, n) }
    const wal = await walSince(hl, walBefore)
    const { rows } = await hl.query(
      'select status, count(*)::int as n from deliveries group by status order by status',
    )
    const delivered = rows.reduce((sum, row) => sum + row.n, 0)
    const { seen } = await receiver.count()
    return {
      dps: dps(n, seconds),
      cpu,
      roles,
      detail:
        `${round(seconds, 2)} s; ingest ${dps(n, (ingested - started) / 1000)} events/s; ` +
        `receiver saw ${seen}; deliveries ${rows.map((x) => `${x.status} ${x.n}`).join(', ')} ` +
        `(${run.warmup} of them warm-up)${cpuDetail(cpu)}; API ${roles.api}, worker ${roles.worker}`,
      storage: {
        walBytesPerDelivery: Math.round(wal / n),
        heapIndexBytesPerDelivery: Math.round((await historyBytes(hl)) / delivered),
      },
    }
  } finally {
    await hl.stop()
    await dropDatabase(pg, name)
  }
}

/** The bare loop: the physical limit of this receiver on this machine. */
export async function e2eBare(run: E2eRun): Promise<E2eResult> {
  const { receiver, n } = run
  let cpuOf: ReturnType<typeof meter> | undefined
  // The loop's process measures its own CPU over the timed part.
  const bare = await runBare(receiver.url, run.concurrency, { warmup: run.warmup, total: n }, () =>
    receiver.reset().then(() => {
      cpuOf = meter(run, () => [], false)
    }),
  )
  if (!cpuOf) throw new Error('bare peer: the timed run started without its CPU meter')
  const cpu = cpuOf(n, bare.cpuSeconds)
  const { seen } = await receiver.count()
  return {
    dps: dps(n, bare.seconds),
    cpu,
    detail:
      `${round(bare.seconds, 2)} s; undici.request loop, ${run.concurrency} at a time; ` +
      `receiver saw ${seen}, failed ${bare.failed}${cpuDetail(cpu)}`,
  }
}

/**
 * graphile-worker: the same POSTs as jobs while the runner works. Fed directly
 * (`front: false`: `batch` jobs per addJobs from this process, whose CPU is
 * counted as the sender's), or through its own front door (`front: true`: a
 * Fastify route in its own process that takes the body Hookline's batch route
 * takes, over HTTP, as Hookline is fed).
 */
export async function e2eGraphile(
  run: E2eRun,
  name: string,
  options: { front: boolean },
): Promise<E2eResult> {
  const { pg, receiver, n } = run
  const db = await pg.createDatabase(name)
  const runner = await startGraphile(db, receiver.url, run.concurrency)
  const utils = await makeWorkerUtils({ connectionString: db })
  const front = options.front ? await startGraphileFront(db) : undefined
  const agent = new Agent({ connections: 8, keepAliveTimeout: 60_000 })
  const add = async (from: number, to: number) => {
    const batch = events(from, to)
    if (!front) {
      await utils.addJobs(batch.map((event) => ({ identifier: 'deliver', payload: { event } })))
      return
    }
    const res = await request(`${front.url}/events/batch`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: batch }),
    })
    const text = await res.body.text()
    if (res.statusCode !== 202) throw new Error(`graphile front: ${res.statusCode} ${text}`)
  }
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
    const cpuOf = meter(run, () => [runner.pid, ...(front ? [front.pid] : [])], true)
    const feeder = process.cpuUsage()
    const started = performance.now()
    await inBatches(n, run, add)
    const ingested = performance.now()
    const seconds = ((await finished(receiver, n, queueEmpty)) - started) / 1000
    const fed = process.cpuUsage(feeder)
    const cpu = cpuOf(n, front ? 0 : (fed.user + fed.system) / 1e6)
    const { seen } = await receiver.count()
    stopped = await runner.stop()
    return {
      dps: dps(n, seconds),
      cpu,
      detail:
        `${round(seconds, 2)} s; ${front ? 'front door' : 'addJobs'} ${dps(n, (ingested - started) / 1000)} jobs/s; ` +
        `receiver saw ${seen}; tasks ran ${stopped.ran} (${run.warmup} warm-up), failed ${stopped.failed}` +
        cpuDetail(cpu),
      conditions: runner.conditions,
    }
  } finally {
    await front?.stop()
    await agent.close()
    await utils.release()
    if (!stopped) await runner.stop().catch(() => {})
    await dropDatabase(pg, name)
  }
}
