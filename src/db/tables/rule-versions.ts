import type { Generated, Selectable } from 'kysely'
import type { RuleRequest } from '../../schemas/rule-parts.js'
import type { Json } from './json.js'

/** A rule's request and auth as they were; written by a trigger on rules (0019). */
export interface RuleVersionsTable {
  id: Generated<number>
  rule_id: string
  workspace_id: string
  request: Json<RuleRequest>
  auth_type: string
  auth_public: Json<{ username?: string; name?: string } | null>
  created_at: Generated<Date>
}
export type RuleVersionRow = Selectable<RuleVersionsTable>
