import { Batcher } from '../db/batcher.js'
import type { Db } from '../db/database.js'
import type { NewInboundCallRow } from '../db/tables/inbound-calls.js'
import type { CallOutcome } from '../schemas/calls.js'
import { safeText } from './json-safe.js'
import { type SettleItem, type SettleResult, settleBatch } from './settle.js'
import { type CallFinish, finishCalls } from './sql/finish-calls.js'
import { insertCalls } from './sql/insert-calls.js'
import { purgeExpiredClaims } from './sql/purge-claims.js'

export interface WriterLog {
  error(obj: object, msg: string): void
}

// Large enough to absorb a burst in one statement, small enough to keep one
// statement's parameters (18 columns × rows) well under Postgres's 65,535.
const MAX_BATCH = 500
// Batches written at once. Each holds a pooled connection while it runs.
const MAX_CONCURRENT = 3
const PURGE_EVERY_MS = 60_000

/**
 * The call log's writes, each batched across concurrent calls (see
 * Batcher): `record` inserts calls, `settle` runs the claim-and-forward
 * transaction, `finish` writes outcomes. A batch that fails is retried item
 * by item, so one bad call cannot fail the others.
 */
export class CallWriter {
  readonly #records: Batcher<NewInboundCallRow, CallOutcome | Error>
  readonly #settles: Batcher<SettleItem, SettleResult | Error>
  readonly #finishes: Batcher<CallFinish, boolean>
  readonly #purge: NodeJS.Timeout

  /** `perJob`: most notices of a workspace to a job (schedule.ts `deliveriesPerJob`). */
  constructor(db: Db, log: WriterLog, perJob?: number) {
    const options = { maxBatch: MAX_BATCH, maxConcurrent: MAX_CONCURRENT }
    this.#records = new Batcher(
      oneByOneOnFailure(
        async (rows) => insertCalls(db, rows).then(() => rows.map((row) => row.outcome)),
        (row) =>
          insertCalls(db, [row])
            .then(
              () => row.outcome,
              () => {
                const bare = bareRow(row)
                return insertCalls(db, [bare]).then(() => bare.outcome)
              },
            )
            .catch((err: Error) => {
              log.error({ err, call: row.id }, 'inbound call could not be recorded')
              return err
            }),
      ),
      options,
    )
    this.#settles = new Batcher(
      oneByOneOnFailure(
        (items) => settleBatch(db, items, perJob),
        (item) =>
          settleBatch(db, [item], perJob).then(
            ([result]) => result as SettleResult,
            (err: Error) => {
              log.error({ err, call: item.callId }, 'inbound call could not be settled')
              return err
            },
          ),
      ),
      options,
    )
    this.#finishes = new Batcher(
      oneByOneOnFailure(
        async (finishes) => finishCalls(db, finishes).then(() => finishes.map(() => true)),
        (finish) =>
          finishCalls(db, [finish]).then(
            () => true,
            (err) => {
              log.error({ err, call: finish.id }, 'inbound call outcome could not be written')
              return false
            },
          ),
      ),
      options,
    )
    this.#purge = setInterval(() => {
      purgeExpiredClaims(db).catch((err) =>
        log.error({ err }, 'expired inbound claims could not be purged'),
      )
    }, PURGE_EVERY_MS)
    this.#purge.unref()
  }

  /**
   * Resolves once the call is committed, with the outcome stored: the row's,
   * or `error` when only the bare record could be written. Rejects only when
   * not even that could be.
   */
  async record(row: NewInboundCallRow): Promise<CallOutcome> {
    const stored = await this.#records.push(row)
    if (stored instanceof Error) throw stored
    return stored
  }

  /** The settled outcome, or the Error that kept the call from settling (it is then the caller's to record). */
  settle(item: SettleItem): Promise<SettleResult | Error> {
    return this.#settles.push(item)
  }

  /** Whether the outcome was committed (a failure is logged, and the call stays `received`). */
  finish(finish: CallFinish): Promise<boolean> {
    return this.#finishes.push(finish)
  }

  async close(): Promise<void> {
    clearInterval(this.#purge)
    await Promise.all([this.#records.drain(), this.#settles.drain()])
    await this.#finishes.drain()
  }
}

/** A batch writer that, when the batch fails, retries each item alone. */
function oneByOneOnFailure<I, O>(
  batch: (items: I[]) => Promise<O[]>,
  single: (item: I) => Promise<O>,
): (items: I[]) => Promise<O[]> {
  return async (items) => {
    try {
      return await batch(items)
    } catch {
      if (items.length === 1) return [await single(items[0] as I)]
      return Promise.all(items.map(single))
    }
  }
}

/**
 * The record of last resort: when a call's row cannot be stored as received
 * (an unforeseen value the database refuses), store that it came and why it
 * could not be kept, rather than nothing.
 */
function bareRow(row: NewInboundCallRow): NewInboundCallRow {
  return {
    ...row,
    headers: '{}',
    query: '{}',
    body: null,
    params: null,
    record: null,
    outcome: 'error',
    reason: safeText(
      `the request could not be stored as received${row.reason ? `; ${row.reason}` : ''}`,
    ).slice(0, 2000),
    finished_at: new Date(),
  }
}
