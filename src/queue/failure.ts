import { type BackoffOptions, retryDelayMs } from './backoff.js'
import { PermanentJobError, PutOffJobError, RetryJobError } from './errors.js'
import type { Failure } from './sql/fail-jobs.js'

// Enough to diagnose; a dead job's error should not outweigh its payload.
const MAX_ERROR_LENGTH = 2_000

/**
 * What to record for a failed run: when to retry, or whether the job is dead.
 * `cut` means the worker itself aborted the run (its stop deadline passed):
 * not the job's fault, so it runs again at once, even past its last attempt.
 */
export function failureFor(
  job: { id: string; attempt: number; maxAttempts: number },
  err: unknown,
  options: { backoff: BackoffOptions; cut?: boolean },
): Failure {
  const error = errorText(err)
  if (options.cut) return { id: job.id, error, delayMs: 0, dead: false }
  if (err instanceof PermanentJobError) return { id: job.id, error, delayMs: 0, dead: true }
  if (err instanceof PutOffJobError)
    return { id: job.id, error, delayMs: Math.max(0, err.delayMs), dead: false, uncounted: true }
  const delayMs =
    err instanceof RetryJobError && err.delayMs !== undefined
      ? Math.max(0, err.delayMs)
      : retryDelayMs(job.attempt, options.backoff)
  return { id: job.id, error, delayMs, dead: job.attempt >= job.maxAttempts }
}

export function errorText(err: unknown): string {
  let text: string
  if (err instanceof Error) {
    text = `${err.name}: ${err.message}`
    if (err.cause instanceof Error) text += ` (cause: ${err.cause.name}: ${err.cause.message})`
  } else {
    text = `non-error thrown: ${String(err)}`
  }
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text
}
