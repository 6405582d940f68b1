import type { ColumnType, Selectable } from 'kysely'
import type { Json } from './json.js'

export interface EventsTable {
  id: string
  workspace_id: string
  type: string
  entity_type: string
  entity_id: string
  fields: Json<Record<string, unknown>>
  previous: Json<Record<string, unknown> | null>
  /**
   * Kept for history; the key is held 24 hours in `event_idempotency_keys`.
   * Events before migration 0030 may have it in `released_idempotency_key`.
   */
  idempotency_key: string | null
  released_idempotency_key: ColumnType<string | null, never, never>
  /** sha256 of the event as sent (see request-hash.ts); compared on a repeated key. */
  request_hash: string | null
  answer: Json<Record<string, unknown> | null>
  created_at: ColumnType<Date, Date | undefined, never>
}
export type EventRow = Selectable<EventsTable>
