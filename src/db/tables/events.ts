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
  idempotency_key: string | null
  answer: Json<Record<string, unknown> | null>
  created_at: ColumnType<Date, Date | undefined, never>
}
export type EventRow = Selectable<EventsTable>
