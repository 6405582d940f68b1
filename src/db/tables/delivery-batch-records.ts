import type { Selectable } from 'kysely'

/** A record of a batch after its first, for finding the batch by that record (0016). */
export interface DeliveryBatchRecordsTable {
  delivery_id: string
  workspace_id: string
  entity_id: string
}
export type DeliveryBatchRecordRow = Selectable<DeliveryBatchRecordsTable>
