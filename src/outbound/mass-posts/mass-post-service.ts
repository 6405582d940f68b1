import { sql } from 'kysely'
import type { MassPostRow } from '../../db/tables/mass-posts.js'
import { errors } from '../../errors.js'
import { decodeCursor, encodeCursor } from '../../http/pagination.js'
import { newId } from '../../ids.js'
import { enqueue } from '../../queue/enqueue.js'
import type { MassPost } from '../../schemas/mass-posts.js'
import type { RecordInput } from '../../schemas/rule-actions.js'
import { previewRule } from '../rules/rule-actions.js'
import { getRuleRow, type RuleContext } from '../rules/rule-service.js'

export const MASS_POST_JOB = 'mass-post.dispatch'

// Items inserted per statement when the list is stored.
const INSERT_CHUNK = 2000

/** Stores the list as a draft; nothing is sent until it is started. */
export async function createMassPost(
  ctx: RuleContext,
  ruleId: string,
  records: RecordInput[],
): Promise<MassPost> {
  const rule = await getRuleRow(ctx, ruleId)
  const id = newId('mp')
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('mass_posts')
      .values({
        id,
        workspace_id: ctx.workspaceId,
        rule_id: rule.id,
        status: 'draft',
        total: records.length,
      })
      .execute()
    for (let i = 0; i < records.length; i += INSERT_CHUNK) {
      const chunk = records.slice(i, i + INSERT_CHUNK)
      await trx
        .insertInto('mass_post_items')
        .values(
          chunk.map((record, j) => ({
            mass_post_id: id,
            idx: i + j,
            record: JSON.stringify(record),
          })),
        )
        .execute()
    }
  })
  return getMassPost(ctx, id)
}

async function findMassPost(ctx: RuleContext, id: string): Promise<MassPostRow> {
  const row = await ctx.db
    .selectFrom('mass_posts')
    .selectAll()
    .where('workspace_id', '=', ctx.workspaceId)
    .where('id', '=', id)
    .executeTakeFirst()
  if (!row) throw errors.notFound('mass post', id)
  return row
}

export async function getMassPost(ctx: RuleContext, id: string): Promise<MassPost> {
  const row = await findMassPost(ctx, id)
  const counts = await ctx.db
    .selectFrom('deliveries')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('workspace_id', '=', ctx.workspaceId)
    .where('mass_post_id', '=', id)
    .groupBy('status')
    .execute()
  const count = (status: string) => Number(counts.find((c) => c.status === status)?.n ?? 0)
  const succeeded = count('succeeded')
  const failed = count('failed')
  const cancelled = count('cancelled')
  const done = succeeded + failed + cancelled
  return {
    id: row.id,
    rule_id: row.rule_id,
    status: row.status,
    total: row.total,
    progress: { done, succeeded, failed, cancelled, remaining: row.total - done },
    created_at: row.created_at.toISOString(),
    started_at: row.started_at?.toISOString() ?? null,
    finished_at: row.finished_at?.toISOString() ?? null,
  }
}

/** Record N rendered as the rule would send it: callers page through with `next_index`. */
export async function previewMassPostItem(
  ctx: RuleContext,
  id: string,
  index: number,
  bodyLimit: number,
) {
  const row = await findMassPost(ctx, id)
  if (index >= row.total) throw errors.validation(`querystring/index: must be below ${row.total}`)
  if (!row.rule_id) throw errors.conflict(`mass post ${id}: its rule was deleted`)
  const item = await ctx.db
    .selectFrom('mass_post_items')
    .select('record')
    .where('mass_post_id', '=', id)
    .where('idx', '=', index)
    .executeTakeFirstOrThrow()
  return {
    index,
    total: row.total,
    record: item.record,
    preview: await previewRule(ctx, row.rule_id, item.record, bodyLimit),
    next_index: index + 1 < row.total ? index + 1 : null,
  }
}

/** Starts posting: a job turns the items into deliveries in chunks, at the rule's rate. */
export async function startMassPost(ctx: RuleContext, id: string): Promise<MassPost> {
  const row = await findMassPost(ctx, id)
  if (row.status !== 'draft')
    throw errors.conflict(`mass post ${id} is ${row.status}; only a draft can start`)
  if (!row.rule_id) throw errors.conflict(`mass post ${id}: its rule was deleted`)
  await ctx.db.transaction().execute(async (trx) => {
    const started = await trx
      .updateTable('mass_posts')
      .set({ status: 'posting', started_at: new Date() })
      .where('id', '=', id)
      .where('status', '=', 'draft')
      .executeTakeFirst()
    if (started.numUpdatedRows === 0n) throw errors.conflict(`mass post ${id} started meanwhile`)
    await enqueue(trx, [
      {
        kind: MASS_POST_JOB,
        payload: { massPostId: id },
        workspaceId: ctx.workspaceId,
        maxAttempts: 10,
      },
    ])
  })
  return getMassPost(ctx, id)
}

/** Cancels a mass post: items not yet dispatched are never sent; queued deliveries are cancelled. */
export async function cancelMassPost(ctx: RuleContext, id: string): Promise<MassPost> {
  const row = await findMassPost(ctx, id)
  if (row.status === 'cancelled') return getMassPost(ctx, id)
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('mass_posts')
      .set({ status: 'cancelled', finished_at: new Date() })
      .where('id', '=', id)
      .execute()
    await trx
      .updateTable('deliveries')
      .set({
        status: 'cancelled',
        last_error: 'mass post cancelled',
        finished_at: new Date(),
        updated_at: new Date(),
      })
      .where('workspace_id', '=', ctx.workspaceId)
      .where('mass_post_id', '=', id)
      .where('status', '=', 'queued')
      .execute()
  })
  return getMassPost(ctx, id)
}

/** Per-record outcome, in list order. */
export async function listMassPostItems(
  ctx: RuleContext,
  id: string,
  query: { limit: number; cursor?: string },
) {
  await findMassPost(ctx, id)
  const after = query.cursor ? Number(decodeCursor(query.cursor, 1)[0]) : -1
  const rows = await ctx.db
    .selectFrom('mass_post_items as i')
    .leftJoin('deliveries as d', 'd.id', 'i.delivery_id')
    .select([
      'i.idx',
      sql<string>`i.record->>'entity_type'`.as('entity_type'),
      sql<string>`i.record->>'entity_id'`.as('entity_id'),
      'i.delivery_id',
      'd.status',
      'd.response_status',
      'd.last_error',
    ])
    .where('i.mass_post_id', '=', id)
    .where('i.idx', '>', after)
    .orderBy('i.idx')
    .limit(query.limit + 1)
    .execute()
  const page = rows.slice(0, query.limit)
  return {
    data: page.map((r) => ({
      index: r.idx,
      entity_type: r.entity_type,
      entity_id: r.entity_id,
      delivery_id: r.delivery_id,
      status: r.status ?? ('pending' as const),
      response_status: r.response_status ?? null,
      last_error: r.last_error ?? null,
    })),
    next_cursor: rows.length > query.limit ? encodeCursor([page[page.length - 1]?.idx ?? 0]) : null,
  }
}
