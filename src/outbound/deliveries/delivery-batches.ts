import { sql } from 'kysely'
import { arrayLiteral } from '../../db/array-literal.js'
import type { Db } from '../../db/database.js'
import { prepared } from '../../db/prepared.js'
import type { DeliveryRow } from '../../db/tables/deliveries.js'
import type { AttemptRequest } from '../../db/tables/delivery-attempts.js'
import { eventRecord } from '../events/event-record.js'

/**
 * The sender's statements for many deliveries at once (see
 * src/outbound/send/attempt-rounds.ts): a worker running fifty sends pays a
 * few statements per round instead of several per delivery. Each is one
 * statement, so each is atomic without a transaction, and a prepared one:
 * its text is the same for every round, so it is parsed and planned once per
 * connection, not once per round.
 */

/**
 * The deliveries a job may send now: each only while it is open (a finished
 * or cancelled one is simply not returned; the caller checks that each still
 * names its job). A read, not a write: that the delivery is in flight is what
 * its job's lease says (the API shows it `delivering` from it), so no row is
 * updated for it. The record of a delivery that keeps none comes from its
 * event (see `withRecord`), read in the same statement by the event ids the
 * deliveries name: each events partition is searched once for all of them,
 * not once per delivery. An open batch is the exception: it is closed
 * (batch_open = false) under its row lock by a second statement, so no record
 * joins it once its sending starts.
 */
export async function claimDeliveries(
  db: Db,
  claims: { id: string; jobId: string }[],
): Promise<DeliveryRow[]> {
  if (claims.length === 0) return []
  const { rows } = await sql<DeliveryRow & ClaimedEvent>`${prepared('claim_deliveries')}
    with d as materialized (
      select * from deliveries where id = any(${arrayLiteral(claims.map((c) => c.id))}::text[])
        and status in ('queued', 'delivering')
    ),
    e as (
      select id, type, entity_type, entity_id, fields, created_at from events
      where id = any(array(select event_id from d where record is null and event_id is not null))
    )
    select d.*, e.type as ev_type, e.entity_type as ev_entity_type, e.entity_id as ev_entity_id,
      e.fields as ev_fields, e.created_at as ev_created_at
    from d left join e on e.id = d.event_id`.execute(db)
  const jobOf = new Map(claims.map((c) => [c.id, c.jobId]))
  const open: (DeliveryRow & Partial<ClaimedEvent>)[] = rows.filter((row) => !row.batch_open)
  const batches = rows.filter((row) => row.batch_open && String(row.job_id) === jobOf.get(row.id))
  if (batches.length > 0) open.push(...(await closeBatches(db, batches)))
  return open.map(withRecord)
}

/** Closes open batches for the job that names them; answers the ones it closed, as they now are. */
async function closeBatches(db: Db, batches: DeliveryRow[]): Promise<DeliveryRow[]> {
  const { rows } = await sql<DeliveryRow>`
    update deliveries as d set batch_open = false, updated_at = now()
    from unnest(${batches.map((b) => b.id)}::text[], ${batches.map((b) => b.job_id)}::int8[])
      as c(id, job_id)
    where d.id = c.id and d.job_id = c.job_id and d.status in ('queued', 'delivering')
      and d.batch_open
    returning d.*`.execute(db)
  return rows
}

/**
 * A claimed delivery with its record: its own, or made from its event's row
 * read beside it (migrations/0020). A delivery whose event is gone keeps a
 * null record (the sender reads it again, and gives up if it is still gone).
 */
function withRecord(row: DeliveryRow & Partial<ClaimedEvent>): DeliveryRow {
  const { ev_type, ev_entity_type, ev_entity_id, ev_fields, ev_created_at, ...delivery } = row
  if (delivery.record == null && delivery.event_id !== null && ev_type != null) {
    delivery.record = eventRecord({
      id: delivery.event_id,
      type: ev_type,
      entity_type: ev_entity_type as string,
      entity_id: ev_entity_id as string,
      fields: ev_fields as Record<string, unknown>,
      created_at: ev_created_at as Date,
    })
  }
  return delivery
}

/** The event columns a claim reads beside a delivery (null when it keeps its own record). */
interface ClaimedEvent {
  ev_type: string | null
  ev_entity_type: string | null
  ev_entity_id: string | null
  ev_fields: Record<string, unknown> | null
  ev_created_at: Date | null
}

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
 * Attempts that succeeded with nothing more to do (no mapped fields to push,
 * no rule to clear): the deliveries' final state, for many deliveries in one
 * statement, the same columns as recordOutcome writes. A first attempt is
 * kept in its delivery's row (the common case: one statement that only
 * updates); a later one also appends its attempt row, in a statement of its
 * own, so the common one does not carry an insert into the attempts table.
 * Answers the ids of the deliveries it found (a deleted one is not there).
 */
export async function recordSuccesses(db: Db, items: Success[]): Promise<Set<string>> {
  const inRow = items.filter((item) => item.inRow !== null)
  const withAttempt = items.filter((item) => item.inRow === null)
  const found = await Promise.all([
    inRow.length > 0 ? successesInRow(db, inRow) : [],
    withAttempt.length > 0 ? successesWithAttempt(db, withAttempt) : [],
  ])
  return new Set(found.flat())
}

// A later attempt's success (a retry's, rarer) goes as one JSON document for
// the round, its request object and all; the common one as arrays (below).
const doneJson = (items: Success[]) =>
  JSON.stringify(
    items.map((item) => ({
      delivery_id: item.deliveryId,
      workspace_id: item.workspaceId,
      attempt: item.attempt,
      request: item.request,
      response_status: item.status,
      response_headers: item.headers,
      response_body: item.body,
      duration_ms: item.durationMs,
      at: item.at.toISOString(),
    })),
  )

// The ids again as an array: `d.id = any(ids)` keeps the update a primary-key
// lookup in each partition whatever the statement's cached plan guessed from
// the table's size when it was planned. Joined to the document alone, a plan
// made while the table was small hashed it and read every partition whole:
// 35 pages per delivery in bench:deliver's full run, growing with history.
const idsOf = (items: Success[]) => items.map((item) => item.deliveryId)

/**
 * The common success, a first attempt kept in the row, with the round as one
 * array per column. PostgreSQL takes arrays apart for little: each header
 * object is parsed into jsonb on its own, where a JSON document of the whole
 * round had every row's object built as jsonb (its keys sorted) only to be
 * taken apart again, which cost about 4 µs of the backend's CPU per delivery.
 * Times go as epoch milliseconds (float8): no date text to print or parse.
 * The arrays go as literals (see db/array-literal.ts): node-postgres's own
 * conversion ran two replace passes over every header and body text.
 */
async function successesInRow(db: Db, items: Success[]): Promise<string[]> {
  const n = items.length
  const ids = new Array<string>(n)
  const attempts = new Array<number>(n)
  const statuses = new Array<number>(n)
  const headers = new Array<string | null>(n)
  const bodies = new Array<string | null>(n)
  const durations = new Array<number>(n)
  const ats = new Array<number>(n)
  const sentAts = new Array<number | null>(n)
  const versions = new Array<number | null>(n)
  for (let i = 0; i < n; i++) {
    const item = items[i] as Success
    ids[i] = item.deliveryId
    attempts[i] = item.attempt
    statuses[i] = item.status
    headers[i] = item.headers === null ? null : JSON.stringify(item.headers)
    bodies[i] = item.body
    durations[i] = item.durationMs
    ats[i] = item.at.getTime()
    sentAts[i] = item.inRow?.sentAt.getTime() ?? null
    versions[i] = item.inRow?.ruleVersionId ?? null
  }
  const idList = arrayLiteral(ids)
  // `d.id = any(ids)` keeps each partition's lookup by primary key (see idsOf).
  const { rows } = await sql<{ id: string }>`${prepared('record_successes_in_row_columns')}
    update deliveries as d
    set attempts = t.attempt, status = 'succeeded', response_status = t.response_status,
      response_mapped = null, last_error = null, finished_at = to_timestamp(t.at / 1000),
      next_attempt_at = null, updated_at = to_timestamp(t.at / 1000),
      sent_at = to_timestamp(t.sent_at / 1000), duration_ms = t.duration_ms,
      rule_version_id = t.rule_version_id, response_headers = t.response_headers::jsonb,
      response_body = t.response_body
    from unnest(${idList}::text[], ${arrayLiteral(attempts)}::int[],
      ${arrayLiteral(statuses)}::int[], ${arrayLiteral(headers)}::text[],
      ${arrayLiteral(bodies)}::text[], ${arrayLiteral(durations)}::int[],
      ${arrayLiteral(ats)}::float8[], ${arrayLiteral(sentAts)}::float8[],
      ${arrayLiteral(versions)}::int8[])
      as t(delivery_id, attempt, response_status, response_headers, response_body, duration_ms,
        at, sent_at, rule_version_id)
    where d.id = any(${idList}::text[]) and d.id = t.delivery_id
    returning d.id`.execute(db)
  return rows.map((row) => row.id)
}

async function successesWithAttempt(db: Db, items: Success[]): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`${prepared('record_successes')}
    with done as (
      select * from jsonb_to_recordset(${doneJson(items)}::jsonb) as t(delivery_id text,
        workspace_id text, attempt int, request jsonb, response_status int, response_headers jsonb,
        response_body text, duration_ms int, at timestamptz)
    ),
    attempts as (
      insert into delivery_attempts (delivery_id, workspace_id, attempt, request,
        response_status, response_headers, response_body, duration_ms, error)
      select delivery_id, workspace_id, attempt, request, response_status, response_headers,
        response_body, duration_ms, null
      from done
    )
    update deliveries as d
    set attempts = done.attempt, status = 'succeeded', response_status = done.response_status,
      response_mapped = null, last_error = null, finished_at = done.at, next_attempt_at = null,
      updated_at = done.at
    from done
    where d.id = any(${arrayLiteral(idsOf(items))}::text[]) and d.id = done.delivery_id
    returning d.id`.execute(db)
  return rows.map((row) => row.id)
}
