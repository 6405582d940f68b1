import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely'
import type { ConditionGroup } from '../../conditions/condition-schema.js'
import type { InboundMappingEntry } from '../../inbound/mapping.js'
import type { InboundParameter } from '../../inbound/parameters.js'
import type { HandlerAction, HandlerResponse } from '../../schemas/handler-parts.js'
import type { Json } from './json.js'

export interface HandlersTable {
  id: string
  workspace_id: string
  title: string
  description: string
  active: boolean
  token_hash: Buffer
  token_sealed: Buffer
  token_rotated_at: Date | null
  methods: string[]
  body_format: 'auto' | 'json' | 'form' | 'xml' | 'multipart'
  body_limit_bytes: number
  parameters: Json<InboundParameter[]>
  mapping: Json<InboundMappingEntry[]>
  entity_type: string | null
  conditions: Json<ConditionGroup | null>
  protection_seconds: number
  protection_parameters: string[]
  verification_public: Json<Record<string, unknown> & { type: string }>
  verification_sealed: Buffer | null
  response: Json<HandlerResponse>
  actions: Json<HandlerAction[]>
  created_by: Json<{ id: string; name: string } | null>
  created_at: ColumnType<Date, never, never>
  updated_at: ColumnType<Date, never, Date>
}
export type HandlerRow = Selectable<HandlersTable>
export type NewHandlerRow = Insertable<HandlersTable>
export type HandlerUpdate = Updateable<HandlersTable>
