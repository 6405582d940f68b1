import { sql } from 'kysely'
import type { Db } from '../db/database.js'

/**
 * History tables are partitioned by day of their ids (migrations 0030 and
 * 0031): `<table>_pYYYYMMDD` holds the ids made on that UTC day, `<table>_before`
 * everything older than the first day, `<table>_default` anything no day
 * partition takes. A worker creates days ahead; retention drops a day once
 * every workspace's horizon has passed it.
 */

export const DAY_MS = 86_400_000
/** Days made ahead of today; with no worker running for this long, new rows land in `_default`. */
export const PARTITION_DAYS_AHEAD = 7

/** Partitioned together: a day's deliveries and their attempts are dropped in one transaction. */
export const HISTORY_TABLES = [
  { table: 'events', prefix: 'evt' },
  { table: 'inbound_calls', prefix: 'cal' },
  { table: 'deliveries', prefix: 'dlv', with: ['delivery_attempts'] },
] as const

export type HistoryTable = (typeof HISTORY_TABLES)[number]['table']

/** The UTC day's partition name suffix: `_p20261205`. */
export const daySuffix = (day: Date) => `_p${day.toISOString().slice(0, 10).replaceAll('-', '')}`

/** The start of the UTC day holding `at`. */
export const dayStart = (at: Date) => new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS)

/**
 * Creates the day partitions from today to `daysAhead` days on; answers how
 * many it made. Creating a partition locks its table for a moment: behind a
 * long query that would queue every write to it, so it waits at most
 * `lockTimeoutMs`, then fails with 55P03 (lock_not_available) and leaves the
 * days to the next run (a week ahead leaves room for many).
 */
export async function ensurePartitions(
  db: Db,
  daysAhead = PARTITION_DAYS_AHEAD,
  options: { lockTimeoutMs?: number } = {},
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await sql`select set_config('lock_timeout', ${`${options.lockTimeoutMs ?? 5000}ms`}, true)`.execute(
      trx,
    )
    const { rows } = await sql<{ made: number }>`
      select hookline_ensure_partitions(${daysAhead}::integer) as made`.execute(trx)
    return Number(rows[0]?.made ?? 0)
  })
}

/** The day partitions of `table`, oldest first. */
export async function dayPartitions(db: Db, table: string): Promise<{ name: string; day: Date }[]> {
  const { rows } = await sql<{ name: string }>`
    select c.relname as name from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    where i.inhparent = ${table}::regclass
    order by c.relname`.execute(db)
  const pattern = new RegExp(`^${table}_p(\\d{4})(\\d{2})(\\d{2})$`)
  return rows.flatMap(({ name }) => {
    const m = pattern.exec(name)
    return m ? [{ name, day: new Date(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`) }] : []
  })
}

export interface DroppedPartitions {
  /** Partition names dropped. */
  dropped: string[]
  /**
   * Days kept past the horizon: a delivery in a deliveries day is still open,
   * or an open delivery renders from an event of an events day.
   */
  keptOpen: string[]
  /** Days whose drop waited too long for a lock; the next run tries again. */
  busy: string[]
}

/**
 * Drops every day partition that ends at or before `horizon` (the longest
 * retention of any workspace): all its rows are past every workspace's
 * horizon. A deliveries day goes with its attempts and batch records, and
 * stays while any delivery in it is still open (a paused or retrying
 * delivery keeps its row, as the row purge does); an events day stays while
 * an open delivery names one of its events (it renders from it, 0020).
 * `_before` and `_default` are never dropped; their rows go one by one.
 *
 * Dropping a partition locks its parent for a moment; behind a long query it
 * would queue every write to the table, so it gives up after `lockTimeoutMs`.
 */
export async function dropExpiredPartitions(
  db: Db,
  horizon: Date,
  options: { lockTimeoutMs?: number; signal?: AbortSignal } = {},
): Promise<DroppedPartitions> {
  const out: DroppedPartitions = { dropped: [], keptOpen: [], busy: [] }
  const before = dayStart(horizon).getTime()
  for (const spec of HISTORY_TABLES) {
    for (const { name, day } of await dayPartitions(db, spec.table)) {
      if (day.getTime() + DAY_MS > before || options.signal?.aborted) break
      const companions = 'with' in spec ? spec.with.map((t) => t + daySuffix(day)) : []
      try {
        const done = await db.transaction().execute(async (trx) => {
          await sql`select set_config('lock_timeout', ${`${options.lockTimeoutMs ?? 5000}ms`}, true)`.execute(
            trx,
          )
          const next = new Date(day.getTime() + DAY_MS)
          if (spec.table === 'events') {
            // An open delivery without a record of its own renders its request
            // from its event (0020): the event's day stays with it.
            const { rows } = await sql`
              select 1 from deliveries
              where event_id >= hookline_id_bound('evt', ${day})
                and event_id < hookline_id_bound('evt', ${next})
                and finished_at is null and record is null
              limit 1`.execute(trx)
            if (rows.length > 0) return false
          }
          if (spec.table === 'deliveries') {
            const { rows } = await sql`
              select 1 from ${sql.table(name)} where finished_at is null limit 1`.execute(trx)
            if (rows.length > 0) return false
            await sql`
              delete from delivery_batch_records
              where delivery_id >= hookline_id_bound('dlv', ${day})
                and delivery_id < hookline_id_bound('dlv', ${next})`.execute(trx)
          }
          for (const table of [name, ...companions]) {
            await sql`drop table if exists ${sql.table(table)}`.execute(trx)
          }
          return true
        })
        if (done) out.dropped.push(name, ...companions)
        else out.keptOpen.push(name)
      } catch (err) {
        if ((err as { code?: string }).code !== '55P03') throw err
        out.busy.push(name)
      }
    }
  }
  return out
}
