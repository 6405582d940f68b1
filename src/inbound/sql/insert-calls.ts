import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import { withMembers } from '../../db/json-members.js'
import { prepared } from '../../db/prepared.js'
import type { NewInboundCallRow } from '../../db/tables/inbound-calls.js'

/**
 * The call log's first write: many calls in one INSERT, committed on its own
 * (autocommit) before any of them is processed further or answered. One
 * statement, one commit, one WAL flush for the whole batch is what lets
 * recording-first keep up with the senders.
 *
 * The rows travel as one JSON document (bodies in base64) expanded by
 * jsonb_to_recordset: a single JSON.stringify on our side and a fixed
 * statement on the server's, instead of a thousands-of-parameters INSERT
 * built and parsed anew for each batch size. jsonb columns arrive as JSON
 * text and are parsed into the document, so they must be valid jsonb (see
 * json-safe.ts).
 */
export async function insertCalls(db: Db, rows: NewInboundCallRow[]): Promise<void> {
  if (rows.length === 0) return
  const document = `[${rows.map((row) => rowJson(row)).join(',')}]`
  await sql`${prepared('inbound_insert_calls')}
    insert into inbound_calls (
      id, workspace_id, handler_id, method, headers, query, content_type, body, body_size,
      source_address, received_at, outcome, reason, params, record, lookup, notice_delivery_id,
      actions, response_status, finished_at)
    select id, workspace_id, handler_id, method, headers, query, content_type, decode(body, 'base64'),
      body_size, source_address, received_at, outcome, reason, params, record, lookup,
      notice_delivery_id, actions, response_status, finished_at
    from jsonb_to_recordset(${document}::jsonb) as r(${CALL_COLUMNS})`.execute(db)
}

/** The column definitions of a `rowJson` document, for jsonb_to_recordset (the body is base64). */
export const CALL_COLUMNS = sql`
  id text, workspace_id text, handler_id text, method text, headers jsonb, query jsonb,
  content_type text, body text, body_size integer, source_address text, received_at timestamptz,
  outcome text, reason text, params jsonb, record jsonb, lookup jsonb, notice_delivery_id text,
  actions jsonb, response_status integer, finished_at timestamptz`

/**
 * One row as JSON (CALL_COLUMNS); jsonb columns are spliced in as the JSON
 * text they already are. `extra` adds a caller's own columns.
 */
export function rowJson(row: NewInboundCallRow, extra?: object): string {
  const plain = {
    id: row.id,
    workspace_id: row.workspace_id,
    handler_id: row.handler_id,
    method: row.method,
    content_type: row.content_type ?? null,
    body: row.body ? row.body.toString('base64') : null,
    body_size: row.body_size,
    source_address: row.source_address,
    received_at: row.received_at,
    outcome: row.outcome,
    reason: row.reason ?? null,
    notice_delivery_id: row.notice_delivery_id ?? null,
    response_status: row.response_status ?? null,
    finished_at: row.finished_at ?? null,
  }
  const text = withMembers(JSON.stringify(plain), extra)
  const json = (value: string | null | undefined) => value ?? 'null'
  return (
    `${text.slice(0, -1)},"headers":${json(row.headers)},"query":${json(row.query)},` +
    `"params":${json(row.params)},"record":${json(row.record)},"lookup":${json(row.lookup)},` +
    `"actions":${json(row.actions)}}`
  )
}
