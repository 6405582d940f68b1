import type { ColumnType, Selectable } from 'kysely'

export interface RuleReferencesTable {
  workspace_id: string
  rule_id: string
  reference: string
  name: string
  created_at: ColumnType<Date, never, never>
}
export type RuleReferenceRow = Selectable<RuleReferencesTable>
