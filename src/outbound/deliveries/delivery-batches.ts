import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import { prepared } from '../../db/prepared.js'
import type { DeliveryRow } from '../../db/tables/deliveries.js'
import type { AttemptRequest } from '../../db/tables/delivery-attempts.js'
import { type EventRecordColumns, eventRecord } from '../events/event-record.js'

/**
 * The sender's statements for many deliveries at once (see
 * src/outbound/send/attempt-rounds.ts): a worker running fifty sends pays a
 * few statements per round instead of several per delivery. Each is one
 * statement, so each is atomic without a transaction, and a prepared one:
 * its text is the same for every round, so it is parsed and planned once per
 * connection, not once per round.
 */

/**
 * The deliveries a job may send now: each only while it is open and still
 * belongs to the job (a stale or cancelled one is simply not returned). A
 * read, not a write: that the delivery is in flight is what its job's lease
 * says (the API shows it `delivering` from it), so no row is updated for it.
 * An open batch is the exception: it is closed (batch_open = false) under its
 * row lock, so no record joins it once its sending starts. The record is read
 * beside each (see `withRecord`).
 */
export async function claimDeliveries(
  db: Db,
  claims: { id: string; jobId: string }[],
): Promise<DeliveryRow[]> {
  if (claims.length === 0) return []
  const { rows } = await sql<
    DeliveryRow & { claimed_event: ClaimedEvent | null }
  >`${prepared('claim_deliveries')}
    with c as (
      select * from unnest(${claims.map((c) => c.id)}::text[], ${claims.map((c) => c.jobId)}::int8[])
        as c(id, job_id)
    ),
    closed as (
      update deliveries as d set batch_open = false, updated_at = now()
      from c
      where d.id = c.id and d.job_id = c.job_id and d.status in ('queued', 'delivering')
        and d.batch_open
      returning d.*
    ),
    open as (
      select d.* from deliveries d join c on d.id = c.id and d.job_id = c.job_id
      where d.status in ('queued', 'delivering') and not d.batch_open
      union all
      select * from closed
    )
    select open.*, case when open.record is null and open.event_id is not null then
      (select jsonb_build_object('id', e.id, 'type', e.type, 'entity_type', e.entity_type,
        'entity_id', e.entity_id, 'fields', e.fields, 'created_at', e.created_at)
       from events e where e.id = open.event_id) end as claimed_event
    from open`.execute(db)
  return rows.map(withRecord)
}

/**
 * A claimed delivery with its record: its own, or made from its event's row
 * read beside it (migrations/0020). A delivery whose event is gone keeps a
 * null record (the sender reads it again, and gives up if it is still gone).
 */
function withRecord(row: DeliveryRow & { claimed_event?: ClaimedEvent | null }): DeliveryRow {
  const { claimed_event: event, ...delivery } = row
  if (delivery.record == null && event) {
    delivery.record = eventRecord({ ...event, created_at: new Date(event.created_at) })
  }
  return delivery
}

type ClaimedEvent = Omit<EventRecordColumns, 'created_at'> & { created_at: string }

export interface Success {
  deliveryId: string
  workspaceId: string
  attempt: number
  /** The attempt row's request; null when the attempt is kept in the delivery's row. */
  request: AttemptRequest | null
  /** A first attempt kept in the delivery's row: no attempt row (see migrations/0019). */
  inRow: { sentAt: Date; ruleVersionId: number } | null
  status: number
  headers: Record<string, string> | null
  body: string | null
  durationMs: number
  at: Date
}

/**
 * An attempt that succeeded with nothing more to do (no mapped fields to push,
 * no rule to clear): its attempt row and the delivery's final state, for many
 * deliveries in one statement. The same columns as recordOutcome writes.
 * Answers the ids of the deliveries it found (a deleted one is not there).
 */
export async function recordSuccesses(db: Db, items: Success[]): Promise<Set<string>> {
  if (items.length === 0) return new Set()
  // One JSON document for the round: PostgreSQL takes it apart, where an
  // array per column would have every request escaped again, element by element.
  const done = items.map((item) => ({
    delivery_id: item.deliveryId,
    workspace_id: item.workspaceId,
    attempt: item.attempt,
    request: item.request,
    response_status: item.status,
    response_headers: item.headers,
    response_body: item.body,
    duration_ms: item.durationMs,
    at: item.at.toISOString(),
    sent_at: item.inRow?.sentAt.toISOString() ?? null,
    rule_version_id: item.inRow?.ruleVersionId ?? null,
  }))
  const { rows } = await sql<{ id: string }>`${prepared('record_successes')}
    with done as (
      select * from jsonb_to_recordset(${JSON.stringify(done)}::jsonb) as t(delivery_id text,
        workspace_id text, attempt int, request jsonb, response_status int, response_headers jsonb,
        response_body text, duration_ms int, at timestamptz, sent_at timestamptz,
        rule_version_id int8)
    ),
    attempts as (
      insert into delivery_attempts (delivery_id, workspace_id, attempt, request,
        response_status, response_headers, response_body, duration_ms, error)
      select delivery_id, workspace_id, attempt, request, response_status, response_headers,
        response_body, duration_ms, null
      from done where sent_at is null
    )
    update deliveries as d
    set attempts = done.attempt, status = 'succeeded', response_status = done.response_status,
      response_mapped = null, last_error = null, finished_at = done.at, next_attempt_at = null,
      updated_at = done.at,
      sent_at = coalesce(done.sent_at, d.sent_at),
      duration_ms = case when done.sent_at is null then d.duration_ms else done.duration_ms end,
      rule_version_id = coalesce(done.rule_version_id, d.rule_version_id),
      response_headers = case when done.sent_at is null then d.response_headers
        else done.response_headers end,
      response_body = case when done.sent_at is null then d.response_body
        else done.response_body end
    from done
    where d.id = done.delivery_id
    returning d.id`.execute(db)
  return new Set(rows.map((row) => row.id))
}
