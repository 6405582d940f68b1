import { type RawBuilder, sql, type Transaction } from 'kysely'
import { arrayLiteral } from '../../db/array-literal.js'
import type { Database } from '../../db/database.js'
import { prepared } from '../../db/prepared.js'

export interface EventInsert {
  id: string
  workspace_id: string
  type: string
  entity_type: string
  entity_id: string
  fields: Record<string, unknown>
  previous: Record<string, unknown> | null
  idempotency_key: string | null
  request_hash: string | null
  answer: unknown
  /** ISO time: the moment its deliveries' records say it occurred (event-record.ts); default now. */
  created_at?: string
}

/**
 * Records events in one statement; answers the ids recorded. An event whose
 * idempotency key is held (earlier, by a concurrent call, or earlier in this
 * call) is not recorded. Keys are held in `event_idempotency_keys` (events
 * are partitioned by id, so a unique index on events could not hold them):
 * the event claims its key there, and is recorded only if the claim took. A
 * claim older than 24 hours is taken over in the same statement (its row is
 * locked, and the concurrent taker re-reads it and finds it fresh); the old
 * event keeps its key for history.
 *
 * A key twice in one call: the first event (ids follow the batch's order)
 * claims it; ON CONFLICT DO UPDATE may not touch one row twice.
 *
 * The events travel as one array per column (`eventColumns`), so the
 * statement's text is the same for every batch size (prepared once), where a
 * 1,000-event VALUES list was 10,000 parameters to build, parse and plan.
 */
export async function insertEvents(
  trx: Transaction<Database>,
  events: EventInsert[],
): Promise<Set<string>> {
  const { rows } = await sql<{ id: string }>`${prepared('insert_events')}
    with ${recordEvents(eventColumns(events))}
    select id from recorded`.execute(trx)
  return new Set(rows.map((row) => row.id))
}

/** The columns `recordEvents` reads, `created_at` a timestamptz or null (now). */
const EVENT_COLUMNS = sql`id text, workspace_id text, type text, entity_type text,
  entity_id text, fields jsonb, previous jsonb, idempotency_key text, request_hash text,
  answer jsonb, created_at timestamptz`

/** Events as one JSON document (a from item for `recordEvents`). */
export const eventDocument = (document: string) =>
  sql`jsonb_to_recordset(${document}::jsonb) as e(${EVENT_COLUMNS})`

/**
 * Events one column at a time (a from item for `recordEvents`): text as
 * array literals, the JSON columns as one JSON array each, zipped back into
 * rows by ROWS FROM. Cheaper for PostgreSQL than `eventDocument`, which
 * builds each event's own object of eleven keys as jsonb (its keys sorted)
 * only to take it apart again: for 1,000-event batches, 44 against 48 µs of
 * PostgreSQL CPU per event. The time travels as epoch milliseconds, as
 * `queuePlanned`'s run_at does.
 */
export function eventColumns(events: EventInsert[]) {
  const column = (of: (event: EventInsert) => string | null) => arrayLiteral(events.map(of))
  // Each a JSON array, one element per event (null for none): one jsonb to
  // parse, no array literal's escaping to make or undo.
  const json = (of: (event: EventInsert) => unknown) => JSON.stringify(events.map(of))
  return sql`(
    select id, workspace_id, type, entity_type, entity_id, fields,
      nullif(previous, 'null'::jsonb) as previous, idempotency_key, request_hash,
      nullif(answer, 'null'::jsonb) as answer, to_timestamp(created_ms / 1000.0) as created_at
    from rows from (
      unnest(${column((e) => e.id)}::text[]), unnest(${column((e) => e.workspace_id)}::text[]),
      unnest(${column((e) => e.type)}::text[]), unnest(${column((e) => e.entity_type)}::text[]),
      unnest(${column((e) => e.entity_id)}::text[]),
      jsonb_array_elements(${json((e) => e.fields)}::jsonb),
      jsonb_array_elements(${json((e) => e.previous ?? null)}::jsonb),
      unnest(${column((e) => e.idempotency_key)}::text[]),
      unnest(${column((e) => e.request_hash)}::text[]),
      jsonb_array_elements(${json((e) => e.answer ?? null)}::jsonb),
      unnest(${column((e) => (e.created_at ? String(Date.parse(e.created_at)) : null))}::float8[])
    ) as u(id, workspace_id, type, entity_type, entity_id, fields, previous, idempotency_key,
      request_hash, answer, created_ms)
  ) as e`
}

/**
 * `insertEvents` as CTEs, for a statement that writes more beside: `recorded`
 * yields the id of each event recorded, from `events` (`eventColumns` or
 * `eventDocument`). With `onlyIf` (a boolean expression), nothing is recorded
 * unless it holds.
 */
export const recordEvents = (events: RawBuilder<unknown>, onlyIf?: RawBuilder<boolean>) => sql`
    e as (
      select * from ${events}${onlyIf ? sql` where ${onlyIf}` : sql``}
    ),
    claimed as (
      insert into event_idempotency_keys as k (workspace_id, key, event_id)
      select distinct on (workspace_id, idempotency_key) workspace_id, idempotency_key, id
      from e where idempotency_key is not null
      order by workspace_id, idempotency_key, id
      on conflict (workspace_id, key) do update
        set event_id = excluded.event_id, created_at = now()
        where k.created_at < now() - interval '24 hours'
      returning k.event_id
    ),
    recorded as (
      insert into events (id, workspace_id, type, entity_type, entity_id, fields, previous,
        idempotency_key, request_hash, answer, created_at)
      select id, workspace_id, type, entity_type, entity_id, fields, previous, idempotency_key,
        request_hash, answer, coalesce(created_at, now())
      from e
      where idempotency_key is null or id in (select event_id from claimed)
      returning id
    )`

export interface KeyHolder {
  id: string
  type: string
  idempotency_key: string
  request_hash: string | null
  answer: unknown
}

/** The events holding these keys now, by key: the first answers to repeats. */
export async function findKeyHolders(
  trx: Transaction<Database>,
  workspaceId: string,
  keys: string[],
): Promise<Map<string, KeyHolder>> {
  const { rows } = await sql<KeyHolder>`
    select e.id, e.type, k.key as idempotency_key, e.request_hash, e.answer
    from event_idempotency_keys k
    join events e on e.id = k.event_id
    where k.workspace_id = ${workspaceId} and k.key = any(${keys}::text[])`.execute(trx)
  return new Map(rows.map((row) => [row.idempotency_key, row]))
}
