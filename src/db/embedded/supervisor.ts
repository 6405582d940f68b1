import { setTimeout as sleep } from 'node:timers/promises'
import type { EmbeddedPostgres, PostgresExit } from '../embedded-postgres.js'

export interface SupervisorLog {
  info: (fields: object, message: string) => void
  error: (fields: object, message: string) => void
}

export interface SupervisedPostgres {
  /** Why the process cannot serve, once restarts have kept failing; else undefined. */
  problem: () => string | undefined
  stop: () => Promise<void>
}

/** Restarts that fail in a row before the process calls itself unhealthy. */
export const FAILED_RESTARTS_UNHEALTHY = 3
const FIRST_DELAY_MS = 500
const MAX_DELAY_MS = 30_000

/**
 * Keeps the embedded cluster running: when its postmaster exits without
 * being asked (killed, crashed), start it again after 0.5 s, then 1, 2, 4 …
 * up to 30 s between failed tries, and log each step. The pool reconnects
 * by itself once the cluster is back. After three failed restarts in a row
 * `problem()` says why, for /healthz to report; it keeps trying.
 */
export function supervise(
  first: EmbeddedPostgres,
  restart: () => Promise<EmbeddedPostgres>,
  log: SupervisorLog,
): SupervisedPostgres {
  let current = first
  let stopping = false
  let problem: string | undefined
  let wake: (() => void) | undefined

  const watch = async (exit: PostgresExit) => {
    if (stopping) return
    log.error(exit, 'embedded PostgreSQL stopped unexpectedly: restarting it')
    for (let failures = 0; !stopping; ) {
      const delay = Math.min(FIRST_DELAY_MS * 2 ** failures, MAX_DELAY_MS)
      await Promise.race([sleep(delay), new Promise<void>((resolve) => (wake = resolve))])
      if (stopping) return
      try {
        current = await restart()
      } catch (err) {
        failures += 1
        const reason = (err as Error).message
        log.error({ failures, reason }, 'embedded PostgreSQL restart failed')
        if (failures >= FAILED_RESTARTS_UNHEALTHY)
          problem = `the embedded PostgreSQL stopped and ${failures} restarts failed; the last: ${reason}`
        continue
      }
      if (stopping) return void (await current.stop())
      problem = undefined
      log.info({ postgresPid: current.pid, failures }, 'embedded PostgreSQL restarted')
      void current.exited.then(watch)
      return
    }
  }
  void first.exited.then(watch)

  return {
    problem: () => problem,
    stop: async () => {
      stopping = true
      wake?.()
      await current.stop()
    },
  }
}
