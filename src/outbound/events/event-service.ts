import { type OnConflictBuilder, sql, type Transaction } from 'kysely'
import { evaluate } from '../../conditions/evaluate.js'
import type { Database, Db } from '../../db/database.js'
import { prepared } from '../../db/prepared.js'
import type { RuleRow } from '../../db/tables/rules.js'
import { errors } from '../../errors.js'
import { newId } from '../../ids.js'
import type { EventInput, EventResult } from '../../schemas/events.js'
import {
  appendToBatch,
  lockBatchingRules,
  lockOpenBatch,
} from '../deliveries/delivery-repository.js'
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

    // Ids are random within a millisecond; sorted, they follow the batch's order,
    // which "a newer event for the record" (src/outbound/send/deliver.ts) relies on.
    const ids = inputs.map(() => newId('evt')).sort()
    for (const type of new Set(inputs.map((input) => input.type))) {
      rulesByType.set(type, await findTriggeredRules(trx, workspaceId, type))
    }
    // Without a batching window no event depends on another (on the batch an
    // earlier one opened), so one INSERT records them all: a round trip per
    // call, not two per event.
    const windowed = [...rulesByType.values()].some((rules) =>
      rules.some((rule) => rule.execution.batch_window_seconds > 0),
    )
    if (!windowed) {
      const context = { workspaceId, webhooksEnabled: workspace.webhooks_enabled, now }
      return ingestInBulk(trx, context, inputs, ids, rulesByType)
    }
    await lockBatchingRules(
      trx,
      [...rulesByType.values()]
        .flat()
        .filter((rule) => rule.execution.batch_window_seconds > 0)
        .map((rule) => rule.id),
    )
    for (const [index, input] of inputs.entries()) {
      const id = ids[index] as string
      const inserted = await trx
        .insertInto('events')
        .values(eventRow(workspaceId, input, id))
        // Not inserted: the key was taken, and we answer with the first answer.
        .onConflict(firstKeyWins)
        .returning('id')
        .executeTakeFirst()
      if (!inserted) {
        results.push(await firstAnswer(trx, workspaceId, input.idempotency_key as string))
        continue
      }

      const rules = rulesByType.get(input.type) ?? []
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
        const delivery = plannedDelivery(workspaceId, rule, input, id, now)
        planned.push(delivery)
        result.deliveries.push(delivery.row.id)
        // Later events in this same call must find this batch open.
        if (delivery.row.batch_open) {
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

/**
 * The path for calls whose rules have no batching window: every answer is
 * worked out first, then one INSERT records the events with their answers.
 * An event whose idempotency key was taken (earlier, by a concurrent call, or
 * earlier in this call) is not inserted; it answers the first answer and its
 * planned deliveries are dropped.
 */
async function ingestInBulk(
  trx: Transaction<Database>,
  context: { workspaceId: string; webhooksEnabled: boolean; now: Date },
  inputs: EventInput[],
  ids: string[],
  rulesByType: Map<string, RuleRow[]>,
): Promise<EventResult[]> {
  const { workspaceId, now } = context
  const answers = inputs.map((input, index) => {
    const id = ids[index] as string
    const result: EventResult = {
      id,
      type: input.type,
      duplicate: false,
      webhooks_enabled: context.webhooksEnabled,
      matched_rules: [],
      deliveries: [],
    }
    const planned: PlannedDelivery[] = []
    for (const rule of rulesByType.get(input.type) ?? []) {
      const matched = evaluate(rule.conditions ?? undefined, {
        fields: input.record.fields,
        previous: input.previous_fields,
      })
      if (!matched) continue
      result.matched_rules.push(rule.id)
      // Switched off: the event is recorded and matched, nothing is sent.
      if (!context.webhooksEnabled) continue
      const delivery = plannedDelivery(workspaceId, rule, input, id, now)
      planned.push(delivery)
      result.deliveries.push(delivery.row.id)
    }
    return { result, planned }
  })
  // One JSON document expanded by jsonb_to_recordset: the statement's text
  // is the same for every batch size (so it is prepared once), where a
  // 1,000-event VALUES list was 10,000 parameters to build, parse and plan.
  const document = `[${inputs
    .map((input, index) =>
      JSON.stringify({
        id: ids[index],
        workspace_id: workspaceId,
        type: input.type,
        entity_type: input.record.entity_type,
        entity_id: input.record.entity_id,
        fields: input.record.fields,
        previous: input.previous_fields ?? null,
        idempotency_key: input.idempotency_key ?? null,
        answer: answers[index]?.result,
      }),
    )
    .join(',')}]`
  const { rows: inserted } = await sql<{ id: string }>`${prepared('insert_events')}
    insert into events (id, workspace_id, type, entity_type, entity_id, fields, previous,
      idempotency_key, answer)
    select id, workspace_id, type, entity_type, entity_id, fields, previous, idempotency_key, answer
    from jsonb_to_recordset(${document}::jsonb) as e(id text, workspace_id text, type text,
      entity_type text, entity_id text, fields jsonb, previous jsonb, idempotency_key text,
      answer jsonb)
    -- A concurrent or earlier event with the same idempotency key wins (see firstKeyWins).
    on conflict (workspace_id, idempotency_key) where idempotency_key is not null do nothing
    returning id`.execute(trx)
  const recorded = new Set(inserted.map((row) => row.id))
  const results: EventResult[] = []
  const planned: PlannedDelivery[] = []
  for (const [index, input] of inputs.entries()) {
    const answer = answers[index] as (typeof answers)[number]
    if (recorded.has(answer.result.id)) {
      results.push(answer.result)
      planned.push(...answer.planned)
    } else {
      results.push(await firstAnswer(trx, workspaceId, input.idempotency_key as string))
    }
  }
  await scheduleDeliveries(trx, planned)
  return results
}

function eventRow(workspaceId: string, input: EventInput, id: string) {
  return {
    id,
    workspace_id: workspaceId,
    type: input.type,
    entity_type: input.record.entity_type,
    entity_id: input.record.entity_id,
    fields: JSON.stringify(input.record.fields),
    previous: input.previous_fields ? JSON.stringify(input.previous_fields) : null,
    idempotency_key: input.idempotency_key ?? null,
  }
}

// A concurrent or earlier event with the same idempotency key wins.
const firstKeyWins = (oc: OnConflictBuilder<Database, 'events'>) =>
  oc
    .columns(['workspace_id', 'idempotency_key'])
    .where('idempotency_key', 'is not', null)
    .doNothing()

/** A rule's delivery for one event; with a batching window, a new open batch of one. */
function plannedDelivery(
  workspaceId: string,
  rule: RuleRow,
  input: EventInput,
  eventId: string,
  now: Date,
): PlannedDelivery {
  const record = recordOf(input, eventId, now)
  const batching = rule.execution.batch_window_seconds > 0
  const delaySeconds = batching ? rule.execution.batch_window_seconds : rule.execution.delay_seconds
  return {
    row: {
      id: newId('dlv'),
      workspace_id: workspaceId,
      rule_id: rule.id,
      kind: 'rule',
      event_id: eventId,
      event_type: input.type,
      entity_type: input.record.entity_type,
      entity_id: input.record.entity_id,
      record: JSON.stringify(batching ? [record] : record),
      previous: input.previous_fields ? JSON.stringify(input.previous_fields) : null,
      max_attempts: rule.execution.max_attempts,
      batch_open: batching,
    },
    runAt: new Date(now.getTime() + delaySeconds * 1000),
  }
}

/** What a rendered request may name: the fields, plus `record.*` and `event.*`. */
export function recordOf(
  input: {
    type: string
    record: { entity_type: string; entity_id: string; fields: Record<string, unknown> }
  },
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

async function firstAnswer(
  trx: Transaction<Database>,
  workspaceId: string,
  key: string,
): Promise<EventResult> {
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
