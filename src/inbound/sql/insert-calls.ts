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
 * One row as JSON (CALL_COLUMNS), written member by member (no object built
 * to be stringified: this runs for every call); jsonb columns are spliced in
 * as the JSON text they already are. A null column is left out: a member
 * jsonb_to_recordset does not find is null, and the document is shorter to
 * write, send and parse. `extra` adds a caller's own columns: an object, or
 * members written already (`"n":1,"a":"b"`).
 */
export function rowJson(row: NewInboundCallRow, extra?: object | string): string {
  const more = typeof extra === 'string' ? extra : withMembers('{}', extra).slice(1, -1)
  let out =
    `{"id":${text(row.id)},"workspace_id":${text(row.workspace_id)},` +
    `"handler_id":${text(row.handler_id)},"method":${text(row.method)},` +
    `"body_size":${JSON.stringify(row.body_size)},"source_address":${text(row.source_address)},` +
    `"received_at":${value(row.received_at)},"outcome":${text(row.outcome)},` +
    `"headers":${json(row.headers)},"query":${json(row.query)}`
  if (row.content_type != null) out += `,"content_type":${JSON.stringify(row.content_type)}`
  if (row.body) out += `,"body":"${row.body.toString('base64')}"`
  if (row.reason != null) out += `,"reason":${JSON.stringify(row.reason)}`
  if (row.notice_delivery_id != null)
    out += `,"notice_delivery_id":${JSON.stringify(row.notice_delivery_id)}`
  if (row.response_status != null)
    out += `,"response_status":${JSON.stringify(row.response_status)}`
  if (row.finished_at != null) out += `,"finished_at":${JSON.stringify(row.finished_at)}`
  if (row.params != null) out += `,"params":${row.params}`
  if (row.record != null) out += `,"record":${row.record}`
  if (row.lookup != null) out += `,"lookup":${row.lookup}`
  if (row.actions != null) out += `,"actions":${row.actions}`
  return `${out}${more.length > 0 ? `,${more}` : ''}}`
}

const text = (value: string | null | undefined) =>
  value === null || value === undefined ? 'null' : JSON.stringify(value)
const value = (value: unknown) => (value === undefined ? 'null' : JSON.stringify(value))
const json = (value: string | null | undefined) => value ?? 'null'
