import type { Selectable } from 'kysely'

export interface FieldsTable {
  workspace_id: string
  key: string
  label: string
  type: string
  entity: string
}
export type FieldRow = Selectable<FieldsTable>
