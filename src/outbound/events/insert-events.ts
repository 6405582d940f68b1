import { sql, type Transaction } from 'kysely'
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
}

/**
 * Records events in one statement; answers the ids recorded. An event whose
 * idempotency key is held (earlier, by a concurrent call, or earlier in this
 * call) is not recorded. A holder older than 24 hours gives its key up
 * first: its key moves to `released_idempotency_key`, and the unique index
 * then arbitrates as for a key never used.
 *
 * The release must finish before the insert checks the index, and data-
 * modifying CTEs run in no set order; counting `released`'s rows in the
 * insert's one-time filter makes the update run to the end first. Expired
 * holders are locked in id order, so concurrent calls taking over the same
 * keys wait for each other and cannot deadlock; the one that waited finds
 * the key moved (the lock re-reads the row) and then conflicts with the
 * winner's new event.
 *
 * One JSON document expanded by jsonb_to_recordset: the statement's text is
 * the same for every batch size (so it is prepared once), where a
 * 1,000-event VALUES list was 10,000 parameters to build, parse and plan.
 */
export async function insertEvents(
  trx: Transaction<Database>,
  events: EventInsert[],
): Promise<Set<string>> {
  const { rows } = await sql<{ id: string }>`${prepared('insert_events')}
    with e as (
      select * from jsonb_to_recordset(${JSON.stringify(events)}::jsonb) as e(id text,
        workspace_id text, type text, entity_type text, entity_id text, fields jsonb,
        previous jsonb, idempotency_key text, request_hash text, answer jsonb)
    ),
    expired as (
      select h.id from events h
      where (h.workspace_id, h.idempotency_key) in (select workspace_id, idempotency_key from e)
        and h.idempotency_key is not null and h.created_at < now() - interval '24 hours'
      order by h.id
      for update
    ),
    released as (
      update events h set released_idempotency_key = h.idempotency_key, idempotency_key = null
      where h.id = any(array(select id from expired))
      returning h.id
    )
    insert into events (id, workspace_id, type, entity_type, entity_id, fields, previous,
      idempotency_key, request_hash, answer)
    select id, workspace_id, type, entity_type, entity_id, fields, previous, idempotency_key,
      request_hash, answer
    from e
    where (select count(*) from released) >= 0
    on conflict (workspace_id, idempotency_key) where idempotency_key is not null do nothing
    returning id`.execute(trx)
  return new Set(rows.map((row) => row.id))
}

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
    select id, type, idempotency_key, request_hash, answer from events
    where workspace_id = ${workspaceId} and idempotency_key = any(${keys}::text[])`.execute(trx)
  return new Map(rows.map((row) => [row.idempotency_key, row]))
}
