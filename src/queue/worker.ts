import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { defaultBackoff } from './backoff.js'
import { claimSize } from './claim-size.js'
import { createCounters } from './counters.js'
import { PutOffJobError } from './errors.js'
import { failureFor } from './failure.js'
import { refreshIdle, registerIdle, unregisterIdle } from './idle-workers.js'
import { JobRun } from './job-run.js'
import { createListener } from './listener.js'
import { JOBS_CHANNEL, parseNotification } from './notification.js'
import { createOutcomeWriter } from './outcome-writer.js'
import { queueStatsFromPool } from './queue-stats.js'
import { type ClaimedRow, claimJobs } from './sql/claim-jobs.js'
import { msUntilNextRun } from './sql/next-run-at.js'
import { renewLeases } from './sql/renew-leases.js'
import { returnJobs } from './sql/return-jobs.js'
import type {
  JobHandler,
  QueueLogger,
  StopOptions,
  Worker,
  WorkerOptions,
  WorkerStats,
} from './types.js'

const CLAIM_RETRY_MS = 1_000
// Two claims may overlap: while one waits on the database the worker starts
// the jobs of the other, and on a multi-core host both make progress.
const MAX_CLAIMS_IN_FLIGHT = 2
// setTimeout's ceiling; the poll looks again long before anyway.
const MAX_TIMER_MS = 2 ** 31 - 1
// Most jobs an idle claim takes (WorkerOptions.idleClaim): it reads beside
// each, where a busy worker's handlers batch their reads across many jobs.
const IDLE_CLAIM_MAX = 4
// Widest span of ids an idle claim takes by id (IdleClaim.announced): it
// walks the span, so past this it claims what is due instead.
const ANNOUNCED_SPAN_MAX = 1_000
// How long a stopping worker waits for a lease taken just before it deleted
// its idle row (its notification is on its way), to hand the job back.
const LEASE_IN_FLIGHT_MS = 1_000

/**
 * A worker: claims due jobs in batches into a local buffer that feeds
 * `concurrency` slots (a job takes as many as it weighs, and may give them
 * back piece by piece), writes outcomes in bulk, and wakes on NOTIFY, on a
 * timer for the next known run time, and on a slow fallback poll.
 *
 * It holds no transaction and no row lock while jobs run: a claim commits a
 * lease, a heartbeat renews the leases of every held job in one statement,
 * and a lease that lapses (the process died) lets any worker claim the job.
 */
export function createWorker(options: WorkerOptions): Worker {
  const { pool, handlers } = options
  const concurrency = options.concurrency ?? 10
  const batchSize = options.batchSize ?? concurrency
  const leaseMs = options.leaseMs ?? 20_000
  const pollIntervalMs = options.pollIntervalMs ?? 2_000
  const backoff = options.backoff ?? defaultBackoff
  const workerId =
    options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
  const logger = options.logger ?? silentLogger
  const kinds = Object.keys(handlers)
  if (concurrency < 1 || batchSize < 1) throw new Error('concurrency and batchSize must be ≥ 1')

  const outcomes = createOutcomeWriter({
    pool,
    workerId,
    delayMs: options.flushDelayMs ?? 2,
    logger,
    // This worker knows when its retries are due; others find them by polling.
    // Not before the write: a sweep then would find the job still leased.
    onFailuresWritten(failures) {
      for (const failure of failures) if (!failure.dead) wakeAt(failure.delayMs)
    },
  })
  const listener = createListener({
    connectionString: options.connectionString,
    channel: JOBS_CHANNEL,
    applicationName: options.listenerApplicationName ?? 'hookline-queue-listener',
    logger,
    onNotify(payload) {
      const { due, next, ids, lease } = parseNotification(payload)
      if (lease) {
        if (lease.worker === workerId) leased(lease.job as ClaimedRow)
        return
      }
      if (due > 0) heard = ids && heard !== null ? spanOf(heard, ids) : null
      demand += due
      if (next !== null) wakeAt(next - Date.now())
      pump()
    },
    onReconnect() {
      sweep = true
      // A lease sent while the listener was away was not heard: it lapses.
      // Take the row back so no more go astray, then offer it afresh.
      if (options.acceptLeases && idleRow !== 'writing') {
        idleRow = 'writing'
        registration = unregisterIdle(pool, workerId).then(
          () => {
            idleRow = 'none'
            pump()
          },
          () => {
            idleRow = 'none'
          },
        )
      }
      pump()
    },
  })

  // Claimed, not started: a FIFO as an array and a head index (shift() on a
  // long array is linear).
  let buffer: ClaimedRow[] = []
  let head = 0
  // The weights of the jobs in the buffer, and the slots the running jobs hold.
  let bufferedWeight = 0
  let busySlots = 0
  // Mean weight of the jobs claimed lately: claims ask for rows, the buffer is
  // sized in slots.
  let meanWeight = 1
  const running = new Map<string, JobRun>()
  const counters = createCounters()
  let state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  const claims = new Set<Promise<void>>()
  // Rows asked for by the claims in flight, and how many of them are sweeps.
  let pending = 0
  let sweeps = 0
  // What claimSize() weighs; see there.
  let sweep = false
  let draining = false
  let demand = 0
  // The ids of the jobs behind `demand`, as a span, for an idle claim that
  // takes them by id: undefined when no notification came since the last
  // claim began, null when some demand is of jobs not named (a hand-back,
  // or demand a claim carried over).
  let heard: { first: number; last: number } | null | undefined
  let pollTimer: NodeJS.Timeout | undefined
  let heartbeatTimer: NodeJS.Timeout | undefined
  let statsTimer: NodeJS.Timeout | undefined
  let wakeTimer: NodeJS.Timeout | undefined
  let wakeTimerAt = Number.POSITIVE_INFINITY
  let overdueStreak = 0
  let idleWaiters: (() => void)[] = []
  let stopping: Promise<void> | undefined
  // This worker's row in idle_workers (options.acceptLeases): none, being
  // written, or written and not yet taken (as far as the worker knows).
  let idleRow: 'none' | 'writing' | 'held' = 'none'
  let registration: Promise<void> | undefined
  // Leases heard so far; a lease heard while the row was being written took it.
  let leasesHeard = 0
  let onLease: (() => void) | undefined

  const buffered = () => buffer.length - head

  function pump() {
    if (state !== 'running') return
    // A job starts when its weight fits in the free slots (or nothing runs: a
    // job heavier than the whole worker still runs, alone), in claim order.
    while (
      head < buffer.length &&
      (busySlots === 0 || busySlots + buffer[head]!.weight <= concurrency)
    ) {
      const row = buffer[head]!
      buffer[head++] = undefined as unknown as ClaimedRow
      if (head === buffer.length) {
        buffer = []
        head = 0
      }
      bufferedWeight -= row.weight
      start(row)
    }
    while (claims.size < MAX_CLAIMS_IN_FLIGHT) {
      // In rows of the mean weight: the buffer holds about batchSize slots' worth.
      const rows = Math.max(1, Math.round(batchSize / meanWeight))
      const want = claimSize({
        sweep,
        draining,
        demand,
        held: Math.ceil(bufferedWeight / meanWeight) + pending,
        batchSize: rows,
      })
      if (want === 0) break
      // Nothing runs (but jobs only writing their outcome, which read no
      // more: the last notification's, when the next comes soon after),
      // waits or is being claimed (but a sweep, which finds nothing nearly
      // always: the poll's, every few seconds, would otherwise turn about one
      // notification in a hundred into a plain claim and a second round
      // trip): the claim's statement reads what the handlers will read
      // first, saving them a round trip.
      const idle =
        options.idleClaim !== undefined &&
        !sweep &&
        !draining &&
        want <= IDLE_CLAIM_MAX &&
        allFinishing() &&
        buffered() === 0 &&
        claims.size === sweeps
      const claim = claimBatch(want, idle).finally(() => {
        claims.delete(claim)
        offerIdle()
      })
      claims.add(claim)
    }
    offerIdle()
  }

  /**
   * Writes this worker's idle row, so a writer may lease it its next job,
   * when it has nothing to do and no row yet.
   */
  function offerIdle() {
    if (
      !options.acceptLeases ||
      state !== 'running' ||
      idleRow !== 'none' ||
      running.size > 0 ||
      buffered() > 0 ||
      claims.size > 0 ||
      demand > 0
    ) {
      return
    }
    idleRow = 'writing'
    const heardBefore = leasesHeard
    registration = registerIdle(pool, { workerId, kinds, leaseMs }).then(
      () => {
        // A lease heard meanwhile took the row just written.
        idleRow = leasesHeard === heardBefore ? 'held' : 'none'
      },
      (err) => {
        idleRow = 'none'
        logger.warn({ err, workerId }, 'queue: writing the idle row failed')
      },
    )
  }

  /** A job a writer leased to this worker: run it as if claimed. */
  function leased(row: ClaimedRow) {
    leasesHeard++
    // The writer took the row; it is written again when the worker is next idle.
    if (idleRow === 'held') idleRow = 'none'
    logger.debug({ workerId, jobId: row.id }, 'queue: leased a job')
    buffer.push(row)
    bufferedWeight += row.weight
    // Stopping: the job stays in the buffer, which stop() hands back.
    onLease?.()
    pump()
  }

  async function claimBatch(want: number, idle: boolean) {
    const searching = sweep || draining
    const swept = sweep
    // A job announced before this claim began is visible to it; later
    // notifications add to a fresh count.
    const announced = demand
    const ids = heard
    sweep = false
    demand = 0
    heard = undefined
    pending += want
    if (swept) sweeps++
    let rows: ClaimedRow[]
    try {
      const args = { workerId, leaseMs, limit: want, kinds }
      // An idle claim goes out on the LISTEN connection, which just brought
      // the notification: it waits for no pool connection, and it is always
      // the same connection, so its statement is planned once, not once on
      // each pool connection that happens to carry it.
      const via = (idle && listener.client) || pool
      // An idle claim takes the jobs that woke it, by id, when it knows them.
      const span =
        idle && ids && ids.last - ids.first <= ANNOUNCED_SPAN_MAX
          ? { from: String(ids.first), to: String(ids.last) }
          : undefined
      rows = await claimJobs(
        via,
        { ...args, announced: span },
        idle ? options.idleClaim : undefined,
      )
    } catch (err) {
      logger.error({ err, workerId }, 'queue: claim failed')
      demand += announced
      if (announced > 0) heard = null
      draining = false
      wakeAt(CLAIM_RETRY_MS)
      return
    } finally {
      pending -= want
      if (swept) sweeps--
    }
    if (rows.length > 0) {
      overdueStreak = 0
      logger.debug({ workerId, claimed: rows.length, want }, 'queue: claimed jobs')
      let weight = 0
      for (const row of rows) {
        buffer.push(row)
        weight += row.weight
      }
      bufferedWeight += weight
      meanWeight = meanWeight * 0.5 + (weight / rows.length) * 0.5
    }
    if (rows.length === want) {
      // Full: more are probably waiting. Keep claiming while they last.
      if (searching) draining = true
      if (announced > want) {
        demand += announced - want
        heard = null
      }
    } else {
      draining = false
      if (searching && state === 'running') void scheduleNextRun()
    }
    pump()
  }

  async function scheduleNextRun() {
    try {
      const ms = await msUntilNextRun(pool, kinds)
      if (ms === null) return
      if (ms > 0) {
        overdueStreak = 0
        wakeAt(ms)
        return
      }
      // Due, yet the sweep did not get it: it became due between the two
      // statements (look again at once), or another claim holds its row lock
      // (look again soon; back off if that lasts).
      wakeAt(Math.min(2 ** overdueStreak++, pollIntervalMs))
    } catch (err) {
      logger.warn({ err, workerId }, 'queue: reading the next run time failed')
    }
  }

  /** Sweeps `ms` from now, unless an earlier wake-up is already set. */
  function wakeAt(ms: number) {
    if (state !== 'running') return
    const at = Date.now() + Math.max(0, ms)
    if (at >= wakeTimerAt) return
    clearTimeout(wakeTimer)
    wakeTimerAt = at
    wakeTimer = setTimeout(
      () => {
        wakeTimer = undefined
        wakeTimerAt = Number.POSITIVE_INFINITY
        sweep = true
        pump()
      },
      Math.min(Math.max(0, ms), MAX_TIMER_MS),
    )
  }

  function start(row: ClaimedRow) {
    const run = new JobRun(row, pieceDone)
    busySlots += run.held
    running.set(run.id, run)
    counters.count(run.kind, 'started')
    void execute(run, handlers[run.kind])
  }

  async function execute(run: JobRun, handler: JobHandler | undefined) {
    try {
      if (!handler) throw new Error(`no handler for ${run.kind}`)
      await handler(run)
    } catch (err) {
      settle(run, err)
      return
    }
    settle(run, undefined, true)
  }

  /** Every running job (if any) only writes its outcome (Job.finishing); stops at the first not. */
  function allFinishing(): boolean {
    for (const run of running.values()) if (!run.isFinishing) return false
    return true
  }

  function pieceDone() {
    busySlots--
    pump()
  }

  function settle(run: JobRun, err: unknown, ok = false) {
    running.delete(run.id)
    busySlots -= run.held
    run.held = 0
    if (ok) {
      counters.count(run.kind, 'succeeded')
      outcomes.complete(run.id)
    } else if (err instanceof PutOffJobError && !run.cut) {
      // It did what it could now; the rest runs again later, no attempt counted.
      counters.count(run.kind, 'succeeded')
      outcomes.fail(failureFor(run, err, { backoff }))
    } else {
      counters.count(run.kind, 'failed')
      const failure = failureFor(run, err, { backoff, cut: run.cut })
      outcomes.fail(failure)
      logger.debug(
        { workerId, jobId: run.id, kind: run.kind, attempt: run.attempt, failure },
        'queue: job failed',
      )
    }
    if (running.size === 0 && idleWaiters.length > 0) {
      for (const resolve of idleWaiters) resolve()
      idleWaiters = []
    }
    pump()
  }

  async function heartbeat() {
    if (idleRow === 'held') {
      // Gone: taken by a writer (its lease is on its way) or lost with the
      // cluster; written again when next idle.
      const alive = await refreshIdle(pool, workerId, leaseMs).catch(() => true)
      if (!alive && idleRow === 'held') {
        idleRow = 'none'
        pump()
      }
    }
    const ids = [...running.keys()]
    for (let i = head; i < buffer.length; i++) ids.push(buffer[i]!.id)
    if (ids.length === 0) return
    let held: Set<string>
    try {
      held = await renewLeases(pool, { workerId, leaseMs, ids })
    } catch (err) {
      logger.warn({ err, workerId }, 'queue: renewing leases failed')
      return
    }
    const lost = new Set(ids.filter((id) => !held.has(id)))
    if (lost.size === 0) return
    // Another worker claimed them (our lease had lapsed), or they were
    // cancelled; the ones that simply finished meanwhile are no longer here.
    for (const id of lost) running.get(id)?.abort(new Error('lease lost'))
    // Rows claimed while the renewal was on its way are not in `lost`: keep them.
    buffer = buffer.slice(head).filter((row) => !lost.has(row.id))
    head = 0
    bufferedWeight = buffer.reduce((sum, row) => sum + row.weight, 0)
  }

  /**
   * Deletes the idle row before the listener stops. When a writer had taken
   * it, its lease's notification is on its way: wait for it (a while), so
   * the job is handed back with the unstarted ones rather than left to lapse.
   */
  async function withdrawIdle() {
    await registration
    const held = idleRow === 'held'
    idleRow = 'none'
    const deleted = await unregisterIdle(pool, workerId).catch((err) => {
      logger.warn({ err, workerId }, 'queue: deleting the idle row failed')
      return true
    })
    if (!held || deleted) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, LEASE_IN_FLIGHT_MS)
      onLease = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    onLease = undefined
  }

  function whenIdle(ms: number): Promise<void> {
    if (running.size === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      idleWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  async function logStats() {
    if (logger.isLevelEnabled && !logger.isLevelEnabled('debug')) return
    try {
      logger.debug(
        { workerId, worker: stats(), queue: await queueStatsFromPool(pool) },
        'queue stats',
      )
    } catch (err) {
      logger.warn({ err, workerId }, 'queue: reading stats failed')
    }
  }

  function stats(): WorkerStats {
    return { running: running.size, buffered: buffered(), ...counters.snapshot() }
  }

  async function stop({ deadlineMs = 10_000, abortGraceMs = 1_000 }: StopOptions = {}) {
    state = 'stopping'
    clearInterval(pollTimer)
    clearInterval(statsTimer)
    clearTimeout(wakeTimer)
    if (options.acceptLeases) await withdrawIdle()
    // Claims first: an idle one may be on the LISTEN connection.
    await Promise.all(claims)
    const listenerStopped = listener.stop()

    // Claimed but never started: back to the table at once, for any worker.
    const unstarted = buffer.slice(head).map((row) => row.id)
    buffer = []
    bufferedWeight = 0
    head = 0
    if (unstarted.length > 0) {
      await returnJobs(pool, workerId, unstarted).catch((err) => {
        logger.warn({ err, workerId }, 'queue: handing back jobs failed; their leases will lapse')
      })
    }

    await whenIdle(deadlineMs)
    if (running.size > 0) {
      logger.warn({ workerId, running: running.size }, 'queue: stop deadline passed, aborting jobs')
      for (const run of running.values()) run.abort(new Error('worker stopping'), { cut: true })
      await whenIdle(abortGraceMs)
    }
    clearInterval(heartbeatTimer)
    if (running.size > 0) {
      logger.warn(
        { workerId, running: running.size },
        'queue: jobs ignored abort; their leases will lapse',
      )
    }
    await outcomes.flush()
    outcomes.close()
    await listenerStopped
    state = 'stopped'
    logger.debug({ workerId, stats: stats() }, 'queue: worker stopped')
  }

  return {
    id: workerId,
    stats,
    async start() {
      if (state !== 'new') throw new Error('a worker starts once')
      state = 'running'
      await listener.start()
      pollTimer = setInterval(() => {
        sweep = true
        pump()
      }, pollIntervalMs)
      heartbeatTimer = setInterval(() => void heartbeat(), Math.max(1, Math.floor(leaseMs / 3)))
      const statsEvery = options.statsLogIntervalMs ?? 60_000
      if (statsEvery > 0 && options.logger)
        statsTimer = setInterval(() => void logStats(), statsEvery)
      logger.debug({ workerId, kinds, concurrency, batchSize }, 'queue: worker started')
      sweep = true
      pump()
    },
    stop(stopOptions) {
      if (state === 'new') state = 'stopped'
      if (state === 'stopped') return Promise.resolve()
      stopping ??= stop(stopOptions)
      return stopping
    },
  }
}

/** The least span holding both. */
function spanOf(
  a: { first: number; last: number } | undefined,
  b: { first: number; last: number },
): { first: number; last: number } {
  return a ? { first: Math.min(a.first, b.first), last: Math.max(a.last, b.last) } : b
}

const noop = () => {}
const silentLogger: QueueLogger = { debug: noop, info: noop, warn: noop, error: noop }
