import type { ColumnType, Selectable } from 'kysely'
import type { Json } from './json.js'

export interface MassPostsTable {
  id: string
  workspace_id: string
  rule_id: string | null
  status: 'draft' | 'posting' | 'posted' | 'cancelled'
  total: number
  dispatched: ColumnType<number, number | undefined, number>
  created_at: ColumnType<Date, never, never>
  started_at: Date | null
  finished_at: Date | null
}
export type MassPostRow = Selectable<MassPostsTable>

export interface MassPostItemsTable {
  mass_post_id: string
  idx: number
  record: Json<{ entity_type: string; entity_id: string; fields: Record<string, unknown> }>
  delivery_id: string | null
}
