import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import type { CallOutcome } from '../../schemas/calls.js'

export interface CallFinish {
  id: string
  outcome: CallOutcome
  reason: string | null
  /** JSON text, or null. */
  lookup: string | null
  noticeDeliveryId: string | null
  /** JSON text, or null. */
  actions: string | null
  responseStatus: number | null
}

/**
 * Writes the outcomes of many recorded calls in one UPDATE, joined to the
 * values by id. Only small columns change, so with the table's fillfactor
 * the new row versions usually stay on their page (HOT, no index writes).
 */
export async function finishCalls(db: Db, finishes: CallFinish[]): Promise<void> {
  if (finishes.length === 0) return
  await sql`
    update inbound_calls as c
    set outcome = v.outcome, reason = v.reason, lookup = v.lookup::jsonb,
      notice_delivery_id = v.notice, actions = v.actions::jsonb,
      response_status = v.status, finished_at = now()
    from unnest(
      ${finishes.map((f) => f.id)}::text[], ${finishes.map((f) => f.outcome)}::text[],
      ${finishes.map((f) => f.reason)}::text[], ${finishes.map((f) => f.lookup)}::text[],
      ${finishes.map((f) => f.noticeDeliveryId)}::text[], ${finishes.map((f) => f.actions)}::text[],
      ${finishes.map((f) => f.responseStatus)}::int[]
    ) as v(id, outcome, reason, lookup, notice, actions, status)
    where c.id = v.id`.execute(db)
}
