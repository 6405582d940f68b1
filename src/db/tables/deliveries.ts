import type { ColumnType, Generated, Insertable, Selectable } from 'kysely'
import type { Json } from './json.js'

export type DeliveryStatus = 'queued' | 'delivering' | 'succeeded' | 'failed' | 'cancelled'

export interface DeliveriesTable {
  id: string
  workspace_id: string
  rule_id: string | null
  kind: 'rule' | 'notice'
  event_id: string | null
  event_type: string | null
  entity_type: string | null
  entity_id: string | null
  status: DeliveryStatus
  /**
   * The record the request is rendered from (a batch: the list of them);
   * null for a rule's delivery of one event, which reads its event's (0020).
   */
  record: ColumnType<unknown, string | null, string | null>
  previous: Json<Record<string, unknown> | null>
  attempts: Generated<number>
  max_attempts: number
  next_attempt_at: Date | null
  /** int8: read as a number (see database.ts), written as the queue's string id. */
  job_id: ColumnType<number | null, string | null, string | null>
  batch_open: Generated<boolean>
  mass_post_id: string | null
  response_status: number | null
  response_mapped: Json<Record<string, unknown> | null>
  /** Mapped paths not found in the response, with why (0016). */
  response_unmapped: ColumnType<
    { path: string; field: string; reason: string }[] | null,
    string | null | undefined,
    string | null
  >
  last_error: string | null
  created_at: ColumnType<Date, Date | undefined, never>
  updated_at: ColumnType<Date, Date | undefined, Date>
  finished_at: Date | null
  /**
   * A first attempt that succeeded, kept in the delivery's row (0019): when it
   * was signed (null: no attempt here), how long it took, the rule version it
   * was rendered with, and the response. Its request is rendered again when
   * history is read.
   */
  sent_at: Date | null
  duration_ms: number | null
  rule_version_id: number | null
  response_headers: Json<Record<string, string> | null>
  response_body: string | null
}
export type DeliveryRow = Selectable<DeliveriesTable>
export type NewDeliveryRow = Insertable<DeliveriesTable>
