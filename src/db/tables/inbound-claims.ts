import type { Selectable } from 'kysely'

export interface InboundClaimsTable {
  handler_id: string
  /** `d:<sha256>` for the protection period, `r:<webhook-id>` for a message id (its retries are duplicates). */
  key: string
  call_id: string
  expires_at: Date
}
export type InboundClaimRow = Selectable<InboundClaimsTable>
