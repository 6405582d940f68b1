import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

export interface WorkspacesTable {
  id: string
  name: string
  external_id: string | null
  webhooks_enabled: Generated<boolean>
  retention_days: Generated<number>
  crm_callback_url: string | null
  crm_lookup_url: string | null
  created_at: ColumnType<Date, never, never>
  updated_at: ColumnType<Date, never, Date>
}

export type WorkspaceRow = Selectable<WorkspacesTable>
export type NewWorkspaceRow = Insertable<WorkspacesTable>
export type WorkspaceUpdate = Updateable<WorkspacesTable>
