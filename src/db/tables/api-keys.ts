import type { ColumnType, Insertable, Selectable } from 'kysely'

export interface ApiKeysTable {
  id: string
  workspace_id: string
  name: string
  prefix: string
  key_hash: Buffer
  created_at: ColumnType<Date, never, never>
  last_used_at: ColumnType<Date | null, never, Date>
  revoked_at: ColumnType<Date | null, never, Date>
}

export type ApiKeyRow = Selectable<ApiKeysTable>
export type NewApiKeyRow = Insertable<ApiKeysTable>
