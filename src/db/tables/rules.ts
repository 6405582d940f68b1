import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'
import type { ConditionGroup } from '../../conditions/condition-schema.js'
import type { RuleExecution, RuleRequest, RuleResponse } from '../../schemas/rule-parts.js'
import type { Json } from './json.js'

export interface RulesTable {
  id: string
  workspace_id: string
  title: string
  description: Generated<string>
  enabled: Generated<boolean>
  created_by: Json<{ id: string; name: string } | null>
  event_types: string[]
  conditions: Json<ConditionGroup | null>
  request: Json<RuleRequest>
  auth_type: string
  auth_secret: Buffer | null
  auth_public: Json<{ username?: string; name?: string } | null>
  execution: Json<RuleExecution>
  response: Json<RuleResponse>
  notify_on_failure: Generated<boolean>
  disabled_reason: string | null
  disabled_code: RuleDisabledCode | null
  failing_since: Date | null
  /** The rule_versions row of its request and auth as they are now; set by a trigger (0019). */
  version_id: ColumnType<number | null, never, never>
  created_at: ColumnType<Date, never, never>
  updated_at: ColumnType<Date, never, Date>
}
export type RuleRow = Selectable<RulesTable>
export type NewRuleRow = Insertable<RulesTable>
export type RuleUpdate = Updateable<RulesTable>

/** Why Hookline disabled a rule (migration 0027). */
export type RuleDisabledCode = 'receiver_gone' | 'over_render_budget' | 'failing_too_long'
