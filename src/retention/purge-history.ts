import { type RawBuilder, sql } from 'kysely'
import type { Db } from '../db/database.js'
import { newId } from '../ids.js'
import {
  DAY_MS,
  type DroppedPartitions,
  dayPartitions,
  dayStart,
  dropExpiredPartitions,
  HISTORY_TABLES,
  type HistoryTable,
} from './partitions.js'

/**
 * Deletes one workspace's history older than its retention (deliveries,
 * events, mass posts, inbound calls), a batch per statement. Ids are
 * time-ordered (src/ids.ts), so "created before the cutoff" is a range of the
 * existing (workspace_id, id) and (handler_id, id) indexes: no created_at
 * index to maintain on the write path. The time column is checked as well,
 * so a row is deleted only when both say it is old.
 *
 * Each statement is its own transaction and touches at most `batchSize` rows
 * (plus their attempts, by cascade); rows another transaction holds are
 * skipped, not waited for. Nothing long-lived is locked.
 */

export interface PurgeCounts {
  deliveries: number
  events: number
  /** Mass posts; their items (up to 100,000 each) go with them, in batches of their own. */
  massPosts: number
  calls: number
}

export interface PurgeOptions {
  batchSize?: number
  /** Checked between batches: a stopping worker ends the purge early. */
  signal?: AbortSignal
}

export const PURGE_BATCH_SIZE = 5000

/** `dlv_` and the 10-character time part of ids made at `at`: every id made earlier sorts below it. */
const idBound = (prefix: string, at: Date) =>
  newId(prefix, at.getTime()).slice(0, prefix.length + 11)

/**
 * A day the caller will drop as a partition before long (the day holding the
 * longest horizon; see purgeExpiredHistory), per table: its rows are left for
 * the drop instead of being deleted one by one.
 */
export type SparedDays = Partial<Record<HistoryTable, Date>>

export async function purgeWorkspaceHistory(
  db: Db,
  workspaceId: string,
  cutoff: Date,
  options: PurgeOptions & { spare?: SparedDays } = {},
): Promise<PurgeCounts> {
  const n = options.batchSize ?? PURGE_BATCH_SIZE
  const spare = options.spare ?? {}
  // Finished deliveries only: one still retrying keeps its row (and its job's target).
  const deliveries = await inRanges(n, options.signal, 'dlv', cutoff, spare.deliveries, (range) =>
    sql`
      with doomed as (
        select id from deliveries
        where workspace_id = ${workspaceId} and ${range}
          and created_at < ${cutoff} and finished_at is not null
        order by id
        limit ${n}
        for update skip locked
      )
      delete from deliveries d using doomed where d.id = doomed.id`.execute(db),
  )
  const events = await inRanges(n, options.signal, 'evt', cutoff, spare.events, (range) =>
    sql`
      with doomed as (
        select id from events
        where workspace_id = ${workspaceId} and ${range}
          and created_at < ${cutoff}
          -- An open delivery without a record of its own renders its
          -- request from its event (0020).
          and not exists (select from deliveries d
            where d.event_id = events.id and d.finished_at is null and d.record is null)
        order by id
        limit ${n}
        for update skip locked
      )
      delete from events e using doomed where e.id = doomed.id`.execute(db),
  )
  const massPosts = await purgeMassPosts(db, workspaceId, cutoff, n, options.signal)
  // The call log, handler by handler along its (handler_id, id) index.
  const calls = await inRanges(n, options.signal, 'cal', cutoff, spare.inbound_calls, (range) =>
    sql`
      with doomed as (
        select c.id from handlers h
        cross join lateral (
          select id from inbound_calls
          where handler_id = h.id and ${range} and received_at < ${cutoff}
          limit ${n}
          for update skip locked
        ) c
        where h.workspace_id = ${workspaceId}
        limit ${n}
      )
      delete from inbound_calls c using doomed where c.id = doomed.id`.execute(db),
  )
  return { deliveries, events, massPosts, calls }
}

/**
 * Runs `statement` in batches over the ids made before `cutoff`, leaving out
 * the spared day: one range, or the one before the day and the one after it.
 */
async function inRanges(
  n: number,
  signal: AbortSignal | undefined,
  prefix: string,
  cutoff: Date,
  spared: Date | undefined,
  statement: (range: RawBuilder<unknown>) => Promise<{ numAffectedRows?: bigint }>,
): Promise<number> {
  const ranges: [Date | null, Date][] = [[null, cutoff]]
  if (spared && spared < cutoff) {
    const after = new Date(spared.getTime() + DAY_MS)
    ranges.splice(
      0,
      1,
      [null, spared],
      ...(after < cutoff ? [[after, cutoff] as [Date, Date]] : []),
    )
  }
  let deleted = 0
  for (const [from, to] of ranges) {
    const range = from
      ? sql`id >= ${idBound(prefix, from)} and id < ${idBound(prefix, to)}`
      : sql`id < ${idBound(prefix, to)}`
    deleted += await inBatches(n, signal, () => statement(range))
  }
  return deleted
}

/**
 * Mass posts that finished before the cutoff; a draft or one still posting
 * stays, whatever its age. One post holds up to 100,000 items, so a batch of
 * posts could cascade to millions of rows in one statement: the items go
 * first, `batchSize` rows at a time, and a post goes once it has none left.
 * Its deliveries are history like any other and go by their own age.
 */
async function purgeMassPosts(
  db: Db,
  workspaceId: string,
  cutoff: Date,
  n: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  const finished = sql`p.workspace_id = ${workspaceId} and p.id < ${idBound('mp', cutoff)}
    and p.status in ('posted', 'cancelled') and p.finished_at < ${cutoff}`
  await inBatches(n, signal, () =>
    sql`
      with doomed as (
        select i.mass_post_id, i.idx from mass_posts p
        cross join lateral (
          select mass_post_id, idx from mass_post_items
          where mass_post_id = p.id
          limit ${n}
          for update skip locked
        ) i
        where ${finished}
        limit ${n}
      )
      delete from mass_post_items i using doomed
      where i.mass_post_id = doomed.mass_post_id and i.idx = doomed.idx`.execute(db),
  )
  return inBatches(n, signal, () =>
    sql`
      with doomed as (
        select p.id from mass_posts p
        where ${finished}
          and not exists (select from mass_post_items i where i.mass_post_id = p.id)
        order by p.id
        limit ${n}
        for update skip locked
      )
      delete from mass_posts p using doomed where p.id = doomed.id`.execute(db),
  )
}

/**
 * Every workspace, by its own `retention_days`. First the day partitions past
 * the longest retention of any workspace are dropped whole (a day's rows are
 * then past every horizon); then each workspace's older rows that remain
 * (in `_before`, `_default`, a kept day, or past a shorter retention) are
 * deleted in batches. The day holding the longest horizon is spared those
 * deletes: it is dropped whole the next day, so a row may outlive its
 * workspace's retention by up to a day. Answers what went.
 */
export async function purgeHistory(
  db: Db,
  options: PurgeOptions & { now?: Date } = {},
): Promise<{ rows: PurgeCounts; partitions: DroppedPartitions }> {
  const now = options.now ?? new Date()
  const total: PurgeCounts = { deliveries: 0, events: 0, massPosts: 0, calls: 0 }
  const longest = await db
    .selectFrom('workspaces')
    .select((eb) => eb.fn.max('retention_days').as('days'))
    .executeTakeFirst()
  let partitions: DroppedPartitions = { dropped: [], keptOpen: [], busy: [] }
  const spare: SparedDays = {}
  if (longest?.days != null) {
    const horizon = new Date(now.getTime() - Number(longest.days) * DAY_MS)
    partitions = await dropExpiredPartitions(db, horizon, { signal: options.signal })
    const day = dayStart(horizon)
    for (const { table } of HISTORY_TABLES) {
      const held = await dayPartitions(db, table)
      if (held.some((p) => p.day.getTime() === day.getTime())) spare[table] = day
    }
  }
  let after = ''
  for (;;) {
    const page = await db
      .selectFrom('workspaces')
      .select(['id', 'retention_days'])
      .where('id', '>', after)
      .orderBy('id')
      .limit(500)
      .execute()
    for (const { id, retention_days } of page) {
      if (options.signal?.aborted) return { rows: total, partitions }
      const cutoff = new Date(now.getTime() - retention_days * DAY_MS)
      const counts = await purgeWorkspaceHistory(db, id, cutoff, { ...options, spare })
      total.deliveries += counts.deliveries
      total.events += counts.events
      total.massPosts += counts.massPosts
      total.calls += counts.calls
    }
    if (page.length < 500) return { rows: total, partitions }
    after = page[page.length - 1]!.id
  }
}

/** `purgeHistory`, answering the rows deleted one by one. */
export async function purgeExpiredHistory(
  db: Db,
  options: PurgeOptions & { now?: Date } = {},
): Promise<PurgeCounts> {
  return (await purgeHistory(db, options)).rows
}

/** Runs `statement` until a batch comes back short (or the signal aborts); answers the rows deleted. */
async function inBatches(
  batchSize: number,
  signal: AbortSignal | undefined,
  statement: () => Promise<{ numAffectedRows?: bigint }>,
): Promise<number> {
  let deleted = 0
  while (!signal?.aborted) {
    const result = await statement()
    const count = Number(result.numAffectedRows ?? 0n)
    deleted += count
    if (count < batchSize) break
  }
  return deleted
}

/**
 * `Idempotency-Key` answers (src/http/idempotency.ts) and events' idempotency
 * keys past their 24 hours, a statement each.
 */
export async function purgeIdempotencyKeys(db: Db): Promise<number> {
  const answers = await sql`
    delete from idempotency_keys where created_at < now() - interval '24 hours'`.execute(db)
  const events = await sql`
    delete from event_idempotency_keys where created_at < now() - interval '24 hours'`.execute(db)
  return Number(answers.numAffectedRows ?? 0) + Number(events.numAffectedRows ?? 0)
}
