import { sql } from 'kysely'
import type { Db } from '../db/database.js'
import { newId } from '../ids.js'
import { callIdBound } from '../inbound/call-ids.js'

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

export async function purgeWorkspaceHistory(
  db: Db,
  workspaceId: string,
  cutoff: Date,
  options: PurgeOptions = {},
): Promise<PurgeCounts> {
  const n = options.batchSize ?? PURGE_BATCH_SIZE
  // Finished deliveries only: one still retrying keeps its row (and its job's target).
  const deliveries = await inBatches(n, options.signal, () =>
    sql`
      with doomed as (
        select id from deliveries
        where workspace_id = ${workspaceId} and id < ${idBound('dlv', cutoff)}
          and created_at < ${cutoff} and finished_at is not null
        order by id
        limit ${n}
        for update skip locked
      )
      delete from deliveries d using doomed where d.id = doomed.id`.execute(db),
  )
  const events = await inBatches(n, options.signal, () =>
    sql`
      with doomed as (
        select id from events
        where workspace_id = ${workspaceId} and id < ${idBound('evt', cutoff)}
          and created_at < ${cutoff}
        order by id
        limit ${n}
        for update skip locked
      )
      delete from events e using doomed where e.id = doomed.id`.execute(db),
  )
  const massPosts = await purgeMassPosts(db, workspaceId, cutoff, n, options.signal)
  // The call log, handler by handler along its (handler_id, id) index.
  const calls = await inBatches(n, options.signal, () =>
    sql`
      with doomed as (
        select c.id from handlers h
        cross join lateral (
          select id from inbound_calls
          where handler_id = h.id and id < ${callIdBound(cutoff)} and received_at < ${cutoff}
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

/** Every workspace, by its own `retention_days`. Answers what went, in total. */
export async function purgeExpiredHistory(
  db: Db,
  options: PurgeOptions & { now?: Date } = {},
): Promise<PurgeCounts> {
  const now = options.now ?? new Date()
  const total: PurgeCounts = { deliveries: 0, events: 0, massPosts: 0, calls: 0 }
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
      if (options.signal?.aborted) return total
      const cutoff = new Date(now.getTime() - retention_days * 86_400_000)
      const counts = await purgeWorkspaceHistory(db, id, cutoff, options)
      total.deliveries += counts.deliveries
      total.events += counts.events
      total.massPosts += counts.massPosts
      total.calls += counts.calls
    }
    if (page.length < 500) return total
    after = page[page.length - 1]!.id
  }
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

/** `Idempotency-Key` answers past their 24 hours (src/http/idempotency.ts), in one statement. */
export async function purgeIdempotencyKeys(db: Db): Promise<number> {
  const result = await sql`
    delete from idempotency_keys where created_at < now() - interval '24 hours'`.execute(db)
  return Number(result.numAffectedRows ?? 0)
}
