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
  /** The record as JSON text already written (the call log's, made safe), so the notice need not write it again. */
  recordJson?: string | null
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
 */
export async function planForwards(
  db: Db,
  forwards: Forward[],
): Promise<{ planned: PlannedDelivery[]; plans: ForwardPlan[] }> {
  const rules = await loadActionRules(db, forwards)
  const planned: PlannedDelivery[] = []
  const now = new Date()
  // When the notice was made: one moment for the batch.
  const occurredAt = JSON.stringify(now.toISOString())
  const plans = forwards.map(({ handler, callId, receivedAt, record, recordJson }) => {
    const entityId = entityIdOf(record, handler.entityType)
    const noticeJson = noticeText(
      {
        handler_id: handler.id,
        call_id: callId,
        entity_type: handler.entityType,
        entity_id: entityId,
      },
      record,
      recordJson,
      receivedAt,
      occurredAt,
    )
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
        record: noticeJson,
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
  return { planned, plans }
}

/**
 * The `inbound.record` notice as JSON: what it is about, the record, when it
 * was received. The record goes in as the text the call log wrote already
 * (the same record, made safe) rather than written again.
 */
function noticeText(
  about: { handler_id: string; call_id: string; entity_type: string; entity_id: string | null },
  record: Record<string, unknown>,
  recordJson: string | null | undefined,
  receivedAt: Date,
  occurredAt: string,
): string {
  const data = JSON.stringify(about)
  const received = JSON.stringify(receivedAt.toISOString())
  const recordText = recordJson ?? JSON.stringify(record)
  return (
    `{"type":"inbound.record","data":${data.slice(0, -1)},"record":${recordText},` +
    `"received_at":${received}},"occurred_at":${occurredAt}}`
  )
}

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
