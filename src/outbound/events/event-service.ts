import type { Transaction } from 'kysely'
import { evaluate } from '../../conditions/evaluate.js'
import type { Database, Db } from '../../db/database.js'
import type { RuleRow } from '../../db/tables/rules.js'
import { errors } from '../../errors.js'
import { newId } from '../../ids.js'
import type { EventInput, EventResult } from '../../schemas/events.js'
import { appendToBatch, lockOpenBatch } from '../deliveries/delivery-repository.js'
import { type PlannedDelivery, scheduleDeliveries } from '../deliveries/schedule.js'
import { findTriggeredRules } from '../rules/rule-repository.js'

/**
 * Takes events in (one or a batch) in one transaction: records them, matches
 * each against its type's enabled rules, and queues a delivery per match. A
 * repeated idempotency key answers the first answer and queues nothing.
 */
export async function ingestEvents(
  db: Db,
  workspaceId: string,
  inputs: EventInput[],
): Promise<EventResult[]> {
  return db.transaction().execute(async (trx) => {
    const workspace = await trx
      .selectFrom('workspaces')
      .select('webhooks_enabled')
      .where('id', '=', workspaceId)
      .executeTakeFirst()
    if (!workspace) throw errors.notFound('workspace', workspaceId)

    const rulesByType = new Map<string, RuleRow[]>()
    const results: EventResult[] = []
    const planned: PlannedDelivery[] = []
    const now = new Date()

    for (const input of inputs) {
      const id = newId('evt')
      const inserted = await trx
        .insertInto('events')
        .values({
          id,
          workspace_id: workspaceId,
          type: input.type,
          entity_type: input.record.entity_type,
          entity_id: input.record.entity_id,
          fields: JSON.stringify(input.record.fields),
          previous: input.previous_fields ? JSON.stringify(input.previous_fields) : null,
          idempotency_key: input.idempotency_key ?? null,
        })
        // A concurrent or earlier event with the same key wins; we answer with its answer.
        .onConflict((oc) =>
          oc.columns(['workspace_id', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing(),
        )
        .returning('id')
        .executeTakeFirst()
      if (!inserted) {
        results.push(await firstAnswer(trx, workspaceId, input.idempotency_key as string))
        continue
      }

      let rules = rulesByType.get(input.type)
      if (!rules) {
        rules = await findTriggeredRules(trx, workspaceId, input.type)
        rulesByType.set(input.type, rules)
      }
      const result: EventResult = {
        id,
        type: input.type,
        duplicate: false,
        webhooks_enabled: workspace.webhooks_enabled,
        matched_rules: [],
        deliveries: [],
      }
      for (const rule of rules) {
        const matched = evaluate(rule.conditions ?? undefined, {
          fields: input.record.fields,
          previous: input.previous_fields,
        })
        if (!matched) continue
        result.matched_rules.push(rule.id)
        // Switched off: the event is recorded and matched, nothing is sent.
        if (!workspace.webhooks_enabled) continue
        const record = recordOf(input, id, now)
        if (rule.execution.batch_window_seconds > 0) {
          const open = await lockOpenBatch(trx, rule.id)
          if (open) {
            await appendToBatch(trx, open.id, record)
            result.deliveries.push(open.id)
            continue
          }
        }
        const deliveryId = newId('dlv')
        const batching = rule.execution.batch_window_seconds > 0
        const delaySeconds = batching ? rule.execution.batch_window_seconds : rule.execution.delay_seconds
        planned.push({
          row: {
            id: deliveryId,
            workspace_id: workspaceId,
            rule_id: rule.id,
            kind: 'rule',
            event_id: id,
            event_type: input.type,
            entity_type: input.record.entity_type,
            entity_id: input.record.entity_id,
            record: JSON.stringify(batching ? [record] : record),
            previous: input.previous_fields ? JSON.stringify(input.previous_fields) : null,
            max_attempts: rule.execution.max_attempts,
            batch_open: batching,
          },
          runAt: new Date(now.getTime() + delaySeconds * 1000),
        })
        result.deliveries.push(deliveryId)
        // Later events in this same call must find this batch open.
        if (batching) {
          await scheduleDeliveries(trx, planned.splice(0))
        }
      }
      await trx
        .updateTable('events')
        .set({ answer: JSON.stringify(result) })
        .where('id', '=', id)
        .execute()
      results.push(result)
    }
    await scheduleDeliveries(trx, planned)
    return results
  })
}

/** What a rendered request may name: the fields, plus `record.*` and `event.*`. */
export function recordOf(
  input: { type: string; record: { entity_type: string; entity_id: string; fields: Record<string, unknown> } },
  eventId: string | null,
  at: Date,
) {
  return {
    entity_type: input.record.entity_type,
    entity_id: input.record.entity_id,
    fields: input.record.fields,
    event: { id: eventId, type: input.type, occurred_at: at.toISOString() },
  }
}

async function firstAnswer(trx: Transaction<Database>, workspaceId: string, key: string): Promise<EventResult> {
  const first = await trx
    .selectFrom('events')
    .select(['id', 'type', 'answer'])
    .where('workspace_id', '=', workspaceId)
    .where('idempotency_key', '=', key)
    .executeTakeFirstOrThrow()
  const answer = (first.answer ?? {}) as Partial<EventResult>
  return {
    id: first.id,
    type: first.type,
    webhooks_enabled: answer.webhooks_enabled ?? true,
    matched_rules: answer.matched_rules ?? [],
    deliveries: answer.deliveries ?? [],
    duplicate: true,
  }
}
