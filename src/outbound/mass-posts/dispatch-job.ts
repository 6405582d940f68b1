import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import { newId } from '../../ids.js'
import { enqueue } from '../../queue/enqueue.js'
import type { Job, JobHandler } from '../../queue/types.js'
import { scheduleDeliveries } from '../deliveries/schedule.js'
import { manualRecord } from '../rules/rule-actions.js'
import { MASS_POST_JOB } from './mass-post-service.js'

// Deliveries made per job run; the job re-enqueues itself for the next chunk,
// so a 100,000-record post never holds one long transaction.
const CHUNK = 1000

/**
 * Turns the next chunk of a mass post's items into deliveries. With a rule
 * rate limit, run times are spread so the queue releases them at that rate;
 * without one, the fairness caps keep the post from crowding other rules out.
 */
export function massPostDispatchHandler(db: Db): JobHandler {
  return async (job: Job) => {
    const { massPostId } = job.payload as { massPostId: string }
    await db.transaction().execute(async (trx) => {
      const post = await trx
        .selectFrom('mass_posts')
        .selectAll()
        .where('id', '=', massPostId)
        .forUpdate()
        .executeTakeFirst()
      if (post?.status !== 'posting' || !post.rule_id) return
      const rule = await trx
        .selectFrom('rules')
        .selectAll()
        .where('id', '=', post.rule_id)
        .executeTakeFirst()
      if (!rule) {
        await trx
          .updateTable('mass_posts')
          .set({ status: 'cancelled', finished_at: new Date() })
          .where('id', '=', post.id)
          .execute()
        return
      }
      const items = await trx
        .selectFrom('mass_post_items')
        .select(['idx', 'record'])
        .where('mass_post_id', '=', post.id)
        .where('idx', '>=', post.dispatched)
        .orderBy('idx')
        .limit(CHUNK)
        .execute()
      const rate = rule.execution.rate_limit_per_second
      const now = Date.now()
      const planned = items.map((item) => ({
        row: {
          id: newId('dlv'),
          workspace_id: post.workspace_id,
          rule_id: rule.id,
          kind: 'rule' as const,
          event_id: null,
          event_type: null,
          entity_type: item.record.entity_type,
          entity_id: item.record.entity_id,
          record: JSON.stringify(manualRecord(item.record)),
          previous: null,
          max_attempts: rule.execution.max_attempts,
          mass_post_id: post.id,
        },
        shareJob: !rate,
        runAt: new Date(
          now +
            (rate
              ? Math.floor((item.idx * 1000) / rate) - Math.floor((post.dispatched * 1000) / rate)
              : 0),
        ),
      }))
      const ids = await scheduleDeliveries(trx, planned)
      // One statement links every item of the chunk to its delivery.
      await sql`
        update mass_post_items set delivery_id = u.delivery_id
        from unnest(${items.map((i) => i.idx)}::int[], ${ids}::text[]) as u(idx, delivery_id)
        where mass_post_id = ${post.id} and mass_post_items.idx = u.idx`.execute(trx)
      const dispatched = post.dispatched + items.length
      const finished = dispatched >= post.total
      await trx
        .updateTable('mass_posts')
        .set({ dispatched, ...(finished && { status: 'posted', finished_at: new Date() }) })
        .where('id', '=', post.id)
        .execute()
      if (!finished) {
        const lastRunAt = planned[planned.length - 1]?.runAt ?? new Date()
        await enqueue(trx, [
          {
            kind: MASS_POST_JOB,
            payload: { massPostId: post.id },
            workspaceId: post.workspace_id,
            runAt: rate ? lastRunAt : undefined,
            maxAttempts: 10,
          },
        ])
      }
    })
  }
}
