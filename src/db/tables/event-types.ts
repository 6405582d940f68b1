import type { ColumnType, Generated, Selectable } from 'kysely'
import type { Json } from './json.js'

export interface EventTypesTable {
  workspace_id: string
  name: string
  description: Generated<string>
  schema: Json<Record<string, unknown> | null>
  sample: Json<Record<string, unknown> | null>
  archived: Generated<boolean>
  created_at: ColumnType<Date, never, never>
  updated_at: ColumnType<Date, never, Date>
}
export type EventTypeRow = Selectable<EventTypesTable>
