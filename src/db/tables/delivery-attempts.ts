import type { ColumnType, Generated, Selectable } from 'kysely'
import type { Json } from './json.js'

export interface AttemptRequest {
  method: string
  url: string
  headers: Record<string, string>
  body: string
  body_truncated: boolean
}

export interface DeliveryAttemptsTable {
  id: Generated<string>
  delivery_id: string
  workspace_id: string
  attempt: number
  /** Null: a first attempt moved out of its delivery's row, rendered again when read (0019). */
  request: Json<AttemptRequest | null>
  sent_at: Date | null
  rule_version_id: number | null
  response_status: number | null
  response_headers: Json<Record<string, string> | null>
  response_body: string | null
  duration_ms: number
  error: string | null
  created_at: ColumnType<Date, never, never>
}
export type DeliveryAttemptRow = Selectable<DeliveryAttemptsTable>
