import type { ExpressionBuilder } from 'kysely'
import type { Database, Db } from '../db/database.js'
import type { DeliveryStatus } from '../db/tables/deliveries.js'
import type { InboundCallRow } from '../db/tables/inbound-calls.js'
import { errors } from '../errors.js'
import { alias } from '../http/deprecation.js'
import { decodeCursor, toPage } from '../http/pagination.js'
import type { CallListQuery, Forwarding } from '../schemas/calls.js'
import { callIdBound } from './call-ids.js'
import { window } from './handler-service.js'
import { decodeUtf8 } from './utf8.js'

// The list's columns: everything but the request and what was made of it.
const SUMMARY = [
  'id',
  'handler_id',
  'method',
  'outcome',
  'reason',
  'source_address',
  'content_type',
  'body_size',
  'response_status',
  'received_at',
  'finished_at',
] as const

type CallSummaryRow = Pick<InboundCallRow, (typeof SUMMARY)[number]> & {
  notice_status: DeliveryStatus | null
}

const FORWARDING: Record<DeliveryStatus, Forwarding> = {
  succeeded: 'forwarded',
  queued: 'waiting',
  delivering: 'waiting',
  failed: 'failed',
  cancelled: 'failed',
}

/** The status of the call's notice delivery, by primary key: one lookup per call shown. */
const noticeStatus = (eb: ExpressionBuilder<Database, 'inbound_calls'>) =>
  eb
    .selectFrom('deliveries')
    .select('deliveries.status')
    .whereRef('deliveries.id', '=', 'inbound_calls.notice_delivery_id')
    .as('notice_status')

function toCall(row: CallSummaryRow) {
  return {
    id: row.id,
    handler_id: row.handler_id,
    method: row.method,
    outcome: row.outcome,
    forwarding: row.notice_status ? FORWARDING[row.notice_status] : null,
    reason: row.reason,
    source_address: row.source_address,
    content_type: row.content_type,
    body_size: row.body_size,
    response_status: row.response_status,
    received_at: row.received_at.toISOString(),
    finished_at: row.finished_at?.toISOString() ?? null,
  }
}

/**
 * A handler's calls, newest first, in a time window (default the last 7
 * days). The window and the cursor are id bounds (ids are made from the
 * receipt time), so every page is one range of the (handler_id, id) index.
 */
export async function listCalls(
  db: Db,
  workspaceId: string,
  handlerId: string,
  query: CallListQuery,
) {
  const handler = await db
    .selectFrom('handlers')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', handlerId)
    .executeTakeFirst()
  if (!handler) throw errors.notFound('handler', handlerId)
  const { from, to } = window(
    alias(query.since, query.from, 'since', 'from'),
    alias(query.until, query.to, 'until', 'to'),
    query.since ? 'since' : 'from',
  )
  let upper = callIdBound(new Date(to.getTime() + 1))
  if (query.cursor) {
    const after = String(decodeCursor(query.cursor, 1)[0])
    if (after < upper) upper = after
  }
  let select = db
    .selectFrom('inbound_calls')
    .select(SUMMARY)
    .select(noticeStatus)
    .where('handler_id', '=', handlerId)
    .where('id', '>=', callIdBound(from))
    .where('id', '<', upper)
    .orderBy('id', 'desc')
    .limit(query.limit + 1)
  if (query.method) select = select.where('method', '=', query.method)
  if (query.outcome?.length) select = select.where('outcome', 'in', query.outcome)
  const page = toPage(await select.execute(), query.limit, (row) => [row.id])
  return { data: page.rows.map(toCall), next_cursor: page.next_cursor }
}

export async function getCall(db: Db, workspaceId: string, callId: string) {
  const row = await db
    .selectFrom('inbound_calls')
    .selectAll()
    .select(noticeStatus)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', callId)
    .executeTakeFirst()
  if (!row) throw errors.notFound('call', callId)
  const truncated = (row.body?.length ?? 0) < row.body_size
  const text = row.body ? bodyText(row.body, truncated) : null
  return {
    ...toCall(row),
    request: {
      headers: row.headers,
      query: row.query,
      body: row.body ? (text ?? row.body.toString('base64')) : null,
      body_encoding: row.body && text === null ? ('base64' as const) : ('utf8' as const),
      body_truncated: truncated,
    },
    parameters: row.params,
    record: row.record,
    lookup: row.lookup ?? null,
    forwarded: { notice_delivery_id: row.notice_delivery_id, actions: row.actions ?? [] },
  }
}

/** UTF-8 text, or null; a kept body cut short may end inside a character, which is then dropped. */
function bodyText(body: Buffer, truncated: boolean): string | null {
  for (let cut = 0; cut <= (truncated ? 3 : 0) && cut < body.length; cut++) {
    const text = decodeUtf8(body.subarray(0, body.length - cut))
    if (text !== null) return text
  }
  return null
}
