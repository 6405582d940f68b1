import type pg from 'pg'
import { completeJobs } from './sql/complete-jobs.js'
import { type Failure, failJobs } from './sql/fail-jobs.js'
import type { QueueLogger } from './types.js'

export interface OutcomeWriter {
  complete(id: string): void
  fail(failure: Failure): void
  /** Writes everything pending; gives up after a few failed tries (the leases then lapse and the jobs run again). */
  flush(): Promise<void>
  /**
   * After the worker stopped: outcomes of handlers that ignored the abort are
   * still written once, but a failed write is dropped, not retried forever
   * (the pool may be closed; the leases lapse and the jobs run again).
   */
  close(): void
  readonly pending: number
}

const RETRY_MS = 1_000

/**
 * Collects job outcomes and writes them in bulk: one DELETE for all
 * completions and one UPDATE for all failures per round. A round starts
 * `delayMs` after the first outcome; outcomes arriving while a round is in
 * flight go out right after it, so batches grow with load on their own.
 */
export function createOutcomeWriter(options: {
  pool: pg.Pool
  workerId: string
  delayMs: number
  logger: QueueLogger
  /** After failures were written: their retry times are now in the table. */
  onFailuresWritten?: (failures: Failure[]) => void
}): OutcomeWriter {
  const { pool, workerId, logger } = options
  let completions: string[] = []
  let failures: Failure[] = []
  let timer: NodeJS.Timeout | undefined
  let inFlight: Promise<boolean> | undefined
  let closed = false

  function schedule(delay: number) {
    if (timer || inFlight) return
    timer = setTimeout(() => {
      timer = undefined
      void write()
    }, delay)
  }

  function write(): Promise<boolean> {
    const ids = completions
    const failed = failures
    completions = []
    failures = []
    const round = (async () => {
      try {
        await Promise.all([
          ids.length > 0 ? completeJobs(pool, ids) : undefined,
          failed.length > 0 ? failJobs(pool, workerId, failed) : undefined,
        ])
        if (failed.length > 0) options.onFailuresWritten?.(failed)
        return true
      } catch (err) {
        if (!closed) {
          // Keep them for the next round; the rows stay leased meanwhile.
          completions = ids.concat(completions)
          failures = failed.concat(failures)
        }
        logger.error(
          { err, completions: ids.length, failures: failed.length },
          'queue: writing outcomes failed',
        )
        return false
      }
    })()
    inFlight = round
    void round.then((ok) => {
      inFlight = undefined
      if (completions.length > 0 || failures.length > 0) schedule(ok ? 0 : RETRY_MS)
    })
    return round
  }

  return {
    complete(id) {
      completions.push(id)
      schedule(options.delayMs)
    },
    fail(failure) {
      failures.push(failure)
      schedule(options.delayMs)
    },
    close() {
      closed = true
    },
    get pending() {
      return completions.length + failures.length
    },
    async flush() {
      for (let tries = 0; tries < 3; ) {
        if (inFlight) {
          await inFlight
          continue
        }
        if (completions.length === 0 && failures.length === 0) return
        clearTimeout(timer)
        timer = undefined
        if (!(await write())) tries++
      }
    },
  }
}
