import type { Insertable, Selectable } from 'kysely'
import type { CallOutcome } from '../../schemas/calls.js'
import type { Json } from './json.js'

export interface ForwardedAction {
  rule_id: string
  delivery_id: string | null
  skipped: string | null
}

export interface InboundCallsTable {
  id: string
  workspace_id: string
  handler_id: string
  method: string
  headers: Json<Record<string, unknown>>
  query: Json<Record<string, unknown>>
  content_type: string | null
  body: Buffer | null
  body_size: number
  source_address: string
  received_at: Date
  outcome: CallOutcome
  reason: string | null
  params: Json<Record<string, unknown> | null>
  record: Json<Record<string, unknown> | null>
  lookup: Json<Record<string, unknown> | null>
  notice_delivery_id: string | null
  actions: Json<ForwardedAction[] | null>
  response_status: number | null
  finished_at: Date | null
}
export type InboundCallRow = Selectable<InboundCallsTable>
export type NewInboundCallRow = Insertable<InboundCallsTable>
