import { sql } from 'kysely'
import type { Db } from '../db/database.js'
import type { ForwardedAction } from '../db/tables/inbound-calls.js'
import { newId } from '../ids.js'
import type { PlannedDelivery } from '../outbound/deliveries/schedule.js'
import { manualRecord } from '../outbound/rules/rule-actions.js'
import { NOTICE_MAX_ATTEMPTS } from '../outbound/send/notices.js'
import type { LoadedHandler } from './loaded-handler.js'

/** An accepted POST call to forward: its mapped record goes to the CRM, and each action runs. */
export interface Forward {
  handler: Pick<LoadedHandler, 'id' | 'workspaceId' | 'entityType' | 'actions'>
  callId: string
  receivedAt: Date
  record: Record<string, unknown>
}

export interface ForwardPlan {
  noticeDeliveryId: string
  actions: ForwardedAction[]
}

type ActionRule = {
  id: string
  workspace_id: string
  enabled: boolean
  max_attempts: number
  delay_seconds: number
  rate_limit_per_second: number | null
}

/**
 * The deliveries that would forward a batch of calls: one `inbound.record`
 * notice each (the row `enqueueNotice` would write, built here so a whole
 * batch is queued in the settle statement), and one delivery per fulfillment
 * action whose rule still exists in the workspace and is enabled. Planned
 * for every call; only those of the calls that win their claims are queued.
 *
 * A notice's record is left null here: the settle statement builds it
 * (`noticeRecord`) from the call's own row, so the record is neither
 * written as JSON a second time nor sent and parsed twice. `occurredAt` is
 * the batch's moment for it, as ISO text.
 */
export async function planForwards(
  db: Db,
  forwards: Forward[],
): Promise<{ planned: PlannedDelivery[]; plans: ForwardPlan[]; occurredAt: string }> {
  const rules = await loadActionRules(db, forwards)
  const planned: PlannedDelivery[] = []
  const now = new Date()
  const plans = forwards.map(({ handler, callId, record }) => {
    const entityId = entityIdOf(record, handler.entityType)
    const noticeDeliveryId = newId('dlv')
    planned.push({
      row: {
        id: noticeDeliveryId,
        workspace_id: handler.workspaceId,
        rule_id: null,
        kind: 'notice',
        event_id: null,
        event_type: 'inbound.record',
        entity_type: handler.entityType,
        entity_id: entityId,
        record: null,
        previous: null,
        max_attempts: NOTICE_MAX_ATTEMPTS,
      },
      runAt: now,
      // One job may carry the notices of a whole settle round to the CRM.
      shareJob: true,
    })
    const actions = handler.actions.map((action): ForwardedAction => {
      const rule = rules.get(action.rule_id)
      if (!rule || rule.workspace_id !== handler.workspaceId) {
        return { rule_id: action.rule_id, delivery_id: null, skipped: 'the rule was deleted' }
      }
      if (!rule.enabled)
        return { rule_id: action.rule_id, delivery_id: null, skipped: 'the rule is disabled' }
      const deliveryId = newId('dlv')
      const input = {
        entity_type: handler.entityType,
        entity_id: entityId ?? callId,
        fields: record,
      }
      planned.push({
        row: {
          id: deliveryId,
          workspace_id: handler.workspaceId,
          rule_id: rule.id,
          kind: 'rule',
          event_id: null,
          event_type: 'inbound.record',
          entity_type: input.entity_type,
          entity_id: input.entity_id,
          record: JSON.stringify(manualRecord(input, 'inbound.record')),
          previous: null,
          max_attempts: rule.max_attempts,
        },
        runAt: new Date(now.getTime() + rule.delay_seconds * 1000),
        shareJob: !rule.rate_limit_per_second,
      })
      return { rule_id: action.rule_id, delivery_id: deliveryId, skipped: null }
    })
    return { noticeDeliveryId, actions }
  })
  return { planned, plans, occurredAt: now.toISOString() }
}

/**
 * The `inbound.record` notice of a call, as `enqueueNotice` would write it,
 * built in the settle statement from the call's row (alias `c`: `id`,
 * `handler_id`, `record`, `received_at` as ISO text), its planned delivery
 * (`p`: `entity_type`, `entity_id`) and the batch's `occurred_at` (a text
 * parameter).
 */
export const noticeRecord = (occurredAt: string) => sql`jsonb_build_object(
      'type', 'inbound.record',
      'data', jsonb_build_object('handler_id', c.handler_id, 'call_id', c.id,
        'entity_type', p.entity_type, 'entity_id', p.entity_id, 'record', c.record,
        'received_at', c.received_at),
      'occurred_at', ${occurredAt}::text)`

async function loadActionRules(db: Db, forwards: Forward[]): Promise<Map<string, ActionRule>> {
  const ids = [...new Set(forwards.flatMap((f) => f.handler.actions.map((a) => a.rule_id)))]
  if (ids.length === 0) return new Map()
  const rows = await db
    .selectFrom('rules')
    .select(['id', 'workspace_id', 'enabled', 'execution'])
    .where('id', 'in', ids)
    .execute()
  return new Map(
    rows.map((row) => [
      row.id,
      {
        id: row.id,
        workspace_id: row.workspace_id,
        enabled: row.enabled,
        max_attempts: row.execution.max_attempts,
        delay_seconds: row.execution.delay_seconds,
        rate_limit_per_second: row.execution.rate_limit_per_second,
      },
    ]),
  )
}

/** `<entity>.id` of the mapped record when the mapping fills it: the CRM's key for the record. */
function entityIdOf(record: Record<string, unknown>, entityType: string): string | null {
  const entity = Object.hasOwn(record, entityType) ? record[entityType] : undefined
  if (typeof entity !== 'object' || entity === null || !Object.hasOwn(entity, 'id')) return null
  const id = (entity as Record<string, unknown>).id
  return typeof id === 'string' || typeof id === 'number' ? String(id).slice(0, 200) : null
}
