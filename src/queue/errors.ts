/**
 * Thrown by a handler to ask for another attempt, optionally after a given
 * delay (a `Retry-After` from the remote end) instead of the backoff schedule.
 * The job still dies once its attempts are spent.
 */
export class RetryJobError extends Error {
  override name = 'RetryJobError'
  readonly delayMs: number | undefined

  constructor(message: string, options: { delayMs?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.delayMs = options.delayMs
  }
}

/** Thrown by a handler when retrying cannot help (a 4xx, a deleted rule): the job dies at once. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError'
}

/**
 * Thrown by a handler that did part of its job and wants the rest run again
 * later (its work waited for a cap that stayed full): the job goes back to
 * the queue, due in `delayMs`, and this run does not count as an attempt.
 * The job keeps its id, so nothing that names it has to change.
 */
export class PutOffJobError extends Error {
  override name = 'PutOffJobError'
  readonly delayMs: number

  constructor(delayMs: number) {
    super(`put off for ${delayMs} ms`)
    this.delayMs = delayMs
  }
}
