import { Batcher } from '../../db/batcher.js'
import type { Db } from '../../db/database.js'
import type { EventInput, EventResult } from '../../schemas/events.js'
import { ingestEvents } from './event-service.js'
import { HELD, ingestTogether } from './ingest-together.js'
import { IngestViewCache } from './ingest-view.js'

interface Item {
  workspaceId: string
  input: EventInput
}

export interface IntakeResult {
  result: EventResult
  /** This event's deliveries in inline mode, for its caller to send. */
  inline: string[]
}

/**
 * Events taken in one statement at most, and writes under way at once. One:
 * calls that arrive during a write all wait for the next, so groups are
 * about twice as large as with two in flight and each event bears half the
 * statements (bench:deliver single, under load: PostgreSQL ~105 µs per event
 * against ~125); a lone call still waits for nothing.
 */
const MAX_BATCH = 200
const MAX_CONCURRENT = 1

/**
 * Group commit for POST /v1/events. Most CRMs send one event per call, many
 * calls at once; each call on its own costs a transaction, a job and a
 * NOTIFY. Calls that arrive while a write is under way wait and go together:
 * one read and one write statement per workspace for the whole group (see
 * ingestTogether), its deliveries sharing jobs and one NOTIFY, each caller
 * answered once its own event is committed. A lone call waits only for the
 * current turn of the event loop.
 *
 * An event whose idempotency key was held is taken again alone, through the
 * transaction of `ingestEvents`, which answers the first answer or the
 * conflict. A group whose rules need that transaction (inline mode, a
 * batching window) goes through it whole; when that fails (one event's key
 * conflicts, say), its events are taken again one by one. Either way each
 * caller gets its own answer or error, exactly as if it had come alone.
 */
export class EventIntake {
  readonly #db: Db
  readonly #batcher: Batcher<Item, IntakeResult | Error>
  readonly #views = new IngestViewCache()
  readonly #perJob: number | undefined

  /** `perJob`: most deliveries of a rule to a job (schedule.ts `deliveriesPerJob`). */
  constructor(db: Db, options: { perJob?: number } = {}) {
    this.#db = db
    this.#perJob = options.perJob
    this.#batcher = new Batcher((items) => this.#run(items), {
      maxBatch: MAX_BATCH,
      maxConcurrent: MAX_CONCURRENT,
    })
  }

  async ingest(workspaceId: string, input: EventInput): Promise<IntakeResult> {
    const outcome = await this.#batcher.push({ workspaceId, input })
    if (outcome instanceof Error) throw outcome
    return outcome
  }

  async #run(items: Item[]): Promise<(IntakeResult | Error)[]> {
    const outcomes = new Array<IntakeResult | Error>(items.length)
    const byWorkspace = new Map<string, number[]>()
    for (const [index, item] of items.entries()) {
      const indexes = byWorkspace.get(item.workspaceId)
      if (indexes) indexes.push(index)
      else byWorkspace.set(item.workspaceId, [index])
    }
    await Promise.all(
      [...byWorkspace].map(async ([workspaceId, indexes]) => {
        const group = indexes.map((i) => (items[i] as Item).input)
        const results = await this.#together(workspaceId, group)
        for (const [k, i] of indexes.entries()) outcomes[i] = results[k] as IntakeResult | Error
      }),
    )
    return outcomes
  }

  async #together(workspaceId: string, inputs: EventInput[]): Promise<(IntakeResult | Error)[]> {
    try {
      return await this.#take(workspaceId, inputs)
    } catch (error) {
      if (inputs.length === 1) return [error as Error]
      return Promise.all(
        inputs.map((input) =>
          this.#take(workspaceId, [input]).then(
            (results) => results[0] as IntakeResult,
            (err: Error) => err,
          ),
        ),
      )
    }
  }

  async #take(workspaceId: string, inputs: EventInput[]): Promise<(IntakeResult | Error)[]> {
    const together = await ingestTogether(this.#db, workspaceId, inputs, this.#views, this.#perJob)
    if (!together) return this.#inTransaction(workspaceId, inputs)
    return Promise.all(
      together.map((outcome, i) => {
        if (outcome instanceof Error) return outcome
        if (outcome !== HELD) return { result: outcome, inline: [] }
        return this.#inTransaction(workspaceId, [inputs[i] as EventInput]).then(
          (results) => results[0] as IntakeResult,
          (err: Error) => err,
        )
      }),
    )
  }

  async #inTransaction(workspaceId: string, inputs: EventInput[]): Promise<IntakeResult[]> {
    const { results, inline } = await ingestEvents(this.#db, workspaceId, inputs, {
      inline: true,
      perJob: this.#perJob,
    })
    const sendNow = new Set(inline)
    return results.map((result) => ({
      result,
      inline: result.deliveries.filter((id) => sendNow.has(id)),
    }))
  }
}
