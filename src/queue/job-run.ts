import type { ClaimedRow } from './sql/claim-jobs.js'
import type { Job } from './types.js'

/**
 * One run of one job, as its handler sees it. The AbortController is made
 * only when the handler asks for the signal or the worker aborts the run:
 * most runs never do, and at tens of thousands of jobs a second making one
 * per job was the worker's largest single cost.
 */
export class JobRun implements Job {
  readonly id: string
  readonly kind: string
  readonly payload: unknown
  readonly workspaceId: string | null
  readonly attempt: number
  readonly maxAttempts: number
  readonly queueKey: string | null
  readonly weight: number
  readonly claimRead: unknown
  /** Slots still held: the weight less the pieces done. */
  held: number
  readonly #onPieceDone: () => void
  /** The handler called finishing() (see Job.finishing). */
  isFinishing = false
  #controller: AbortController | undefined
  #cut = false

  /** `onPieceDone` runs after a piece gave its slot back (see Job.pieceDone). */
  constructor(row: ClaimedRow, onPieceDone: () => void) {
    this.id = row.id
    this.kind = row.kind
    this.payload = row.payload
    this.workspaceId = row.workspace_id
    this.attempt = row.attempts
    this.maxAttempts = row.max_attempts
    this.queueKey = row.queue_key
    this.weight = row.weight
    this.claimRead = row.claim_read
    this.held = row.weight
    this.#onPieceDone = onPieceDone
  }

  finishing(): void {
    this.isFinishing = true
  }

  pieceDone(): void {
    if (this.held === 0) return
    this.held--
    this.#onPieceDone()
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController()
    return this.#controller.signal
  }

  /** True when the worker's stop deadline cut the run short (not the job's fault). */
  get cut(): boolean {
    return this.#cut
  }

  abort(reason: Error, options: { cut?: boolean } = {}) {
    if (options.cut) this.#cut = true
    this.#controller ??= new AbortController()
    this.#controller.abort(reason)
  }
}
