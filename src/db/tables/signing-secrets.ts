import type { ColumnType, Selectable } from 'kysely'

export interface SigningSecretsTable {
  id: string
  workspace_id: string
  secret: Buffer
  created_at: ColumnType<Date, never, never>
  expires_at: Date | null
}
export type SigningSecretRow = Selectable<SigningSecretsTable>
