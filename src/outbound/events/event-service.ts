import type { Transaction } from 'kysely'
import { evaluate } from '../../conditions/evaluate.js'
import type { Database, Db } from '../../db/database.js'
import type { RuleRow } from '../../db/tables/rules.js'
import { errors } from '../../errors.js'
import { newId } from '../../ids.js'
import type { EventInput, EventResult } from '../../schemas/events.js'
import {
  appendToBatch,
  lockBatchingRules,
  lockOpenBatch,
} from '../deliveries/delivery-repository.js'
import {
  DELIVERIES_PER_JOB,
  type PlannedDelivery,
  scheduleDeliveries,
} from '../deliveries/schedule.js'
import { refuseUncataloguedTypes } from './catalog-check.js'
import { recordOf } from './event-record.js'
import { readIngestView } from './ingest-view.js'
import { type EventInsert, findKeyHolders, insertEvents } from './insert-events.js'
import { eventRequestHash } from './request-hash.js'

interface IngestContext {
  workspaceId: string
  webhooksEnabled: boolean
  now: Date
  /** Errors name `events/<index>/…` rather than the single event's own fields. */
  batch: boolean
  /** Rules in inline mode whose deliveries the caller sends itself (see `isInline`). */
  inlineRules: ReadonlySet<string>
  /** Most deliveries of a rule to a job (schedule.ts `deliveriesPerJob`). */
  perJob: number
}

export interface Ingested {
  results: EventResult[]
  /** Deliveries written without a job, for the caller to send before it answers. */
  inline: string[]
}

/**
 * A rule in inline mode makes the caller of POST /v1/events wait for its
 * response, as the seeds' "Inline" runs a webhook while the user waits. Not
 * with a delay or a batching window (both mean later, by definition), and not
 * for batches: a thousand events would hold the caller for a thousand sends.
 */
export function isInline(rule: RuleRow): boolean {
  return (
    rule.execution.mode === 'inline' &&
    rule.execution.delay_seconds === 0 &&
    rule.execution.batch_window_seconds === 0
  )
}

/**
 * Takes events in (one or a batch) in one transaction: records them, matches
 * each against its type's enabled rules, and queues a delivery per match. An
 * idempotency key repeated within 24 hours with the same event answers the
 * first answer and queues nothing; with a different event it is a conflict,
 * which refuses the whole call as any other error does. With `inline`, the
 * deliveries of rules in inline mode are written without a job and named in
 * the answer, for the caller to send. `perJob`: most deliveries of a rule to
 * a job (schedule.ts `deliveriesPerJob`; ten when not given).
 */
export async function ingestEvents(
  db: Db,
  workspaceId: string,
  inputs: EventInput[],
  options: { batch?: boolean; inline?: boolean; perJob?: number } = {},
): Promise<Ingested> {
  return db.transaction().execute(async (trx) => {
    const types = inputs.map((input) => input.type)
    const view = await readIngestView(trx, workspaceId, types)
    if (!view) throw errors.notFound('workspace', workspaceId)
    refuseUncataloguedTypes(types, view.catalog, options.batch ?? false)

    const { rulesByType } = view
    const results: EventResult[] = []
    const planned: PlannedDelivery[] = []
    const inline: string[] = []
    const now = new Date()
    const inlineRules = new Set<string>()
    const context: IngestContext = {
      workspaceId,
      webhooksEnabled: view.webhooksEnabled,
      now,
      batch: options.batch ?? false,
      inlineRules,
      perJob: options.perJob ?? DELIVERIES_PER_JOB,
    }

    // Ids are random within a millisecond; sorted, they follow the batch's order,
    // which "a newer event for the record" (src/outbound/send/deliver.ts) relies on.
    const ids = inputs.map(() => newId('evt')).sort()
    const hashes = inputs.map((input) => (input.idempotency_key ? eventRequestHash(input) : null))
    if (options.inline) {
      for (const rule of [...rulesByType.values()].flat())
        if (isInline(rule)) inlineRules.add(rule.id)
    }
    // Without a batching window no event depends on another (on the batch an
    // earlier one opened), so one INSERT records them all: a round trip per
    // call, not two per event.
    const windowed = [...rulesByType.values()].some((rules) =>
      rules.some((rule) => rule.execution.batch_window_seconds > 0),
    )
    if (!windowed) return ingestInBulk(trx, context, inputs, ids, hashes, rulesByType)
    await lockBatchingRules(
      trx,
      [...rulesByType.values()]
        .flat()
        .filter((rule) => rule.execution.batch_window_seconds > 0)
        .map((rule) => rule.id),
    )
    for (const [index, input] of inputs.entries()) {
      const id = ids[index] as string
      const hash = hashes[index] ?? null
      const recorded = await insertEvents(trx, [eventRow(workspaceId, input, id, hash, null, now)])
      // Not recorded: the key was taken, and we answer with the first answer.
      if (!recorded.has(id)) {
        results.push(...(await firstAnswers(trx, context, [{ index, input, hash }])))
        continue
      }

      const rules = rulesByType.get(input.type) ?? []
      const result: EventResult = {
        id,
        type: input.type,
        duplicate: false,
        webhooks_enabled: view.webhooksEnabled,
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
        if (!view.webhooksEnabled) continue
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
          inline.push(...(await queue(trx, context, planned.splice(0))))
        }
      }
      // Kept for every event here: a batch delivery names only its first
      // event, and GET /v1/events/{id} finds the others' through the answer.
      await trx
        .updateTable('events')
        .set({ answer: JSON.stringify(result) })
        .where('id', '=', id)
        .execute()
      results.push(result)
    }
    inline.push(...(await queue(trx, context, planned)))
    return { results, inline }
  })
}

/** Queues planned deliveries: with their jobs, or job-less for the caller to send inline. */
async function queue(
  trx: Transaction<Database>,
  context: IngestContext,
  planned: PlannedDelivery[],
): Promise<string[]> {
  const inline = planned.filter((p) => context.inlineRules.has(p.row.rule_id as string))
  await scheduleDeliveries(
    trx,
    inline.length === 0 ? planned : planned.filter((p) => !inline.includes(p)),
    context.perJob,
  )
  if (inline.length === 0) return []
  // As the execute endpoint's inline sends: no job, and the process that wrote
  // them sends them now. One that dies first leaves them to the reconcile job.
  await trx
    .insertInto('deliveries')
    .values(
      inline.map(({ row }) => ({
        ...row,
        status: 'queued' as const,
        job_id: null,
        next_attempt_at: context.now,
      })),
    )
    .execute()
  return inline.map((p) => p.row.id)
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
  context: IngestContext,
  inputs: EventInput[],
  ids: string[],
  hashes: (string | null)[],
  rulesByType: Map<string, RuleRow[]>,
): Promise<Ingested> {
  const { workspaceId, now } = context
  const answers = planAnswers(context, inputs, ids, rulesByType)
  const recorded = await insertEvents(
    trx,
    inputs.map((input, index) =>
      eventRow(
        workspaceId,
        input,
        ids[index] as string,
        hashes[index] ?? null,
        answers[index]?.result,
        now,
      ),
    ),
  )
  const repeats = inputs.flatMap((input, index) =>
    recorded.has(ids[index] as string) ? [] : [{ index, input, hash: hashes[index] ?? null }],
  )
  // One look-up for every repeated key of the call, not one per event.
  const firsts = await firstAnswers(trx, context, repeats)
  const results: EventResult[] = []
  const planned: PlannedDelivery[] = []
  for (const answer of answers) {
    if (recorded.has(answer.result.id)) {
      results.push(answer.result)
      planned.push(...answer.planned)
    } else {
      results.push(firsts.shift() as EventResult)
    }
  }
  return { results, inline: await queue(trx, context, planned) }
}

/**
 * Each event's answer, worked out before anything is written, with the
 * deliveries its matched rules plan (none while webhooks are switched off).
 */
export function planAnswers(
  context: Pick<IngestContext, 'workspaceId' | 'webhooksEnabled' | 'now'>,
  inputs: EventInput[],
  ids: string[],
  rulesByType: Map<string, RuleRow[]>,
): { result: EventResult; planned: PlannedDelivery[] }[] {
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
  inOrder(answers)
  return answers
}

/**
 * Gives the planned deliveries their ids in ascending order, in the order
 * planned (ids made within one millisecond are random among themselves).
 * Each of the deliveries' indexes that ends in the id (primary key, by
 * workspace, by rule) then takes a batch's entries at its right edge,
 * where PostgreSQL inserts without searching the tree from its root.
 */
function inOrder(answers: { result: EventResult; planned: PlannedDelivery[] }[]): void {
  const planned = answers.flatMap((answer) => answer.planned)
  const ids = planned.map((p) => p.row.id).sort()
  for (const [n, p] of planned.entries()) p.row.id = ids[n] as string
  for (const answer of answers) answer.result.deliveries = answer.planned.map((p) => p.row.id)
}

export function eventRow(
  workspaceId: string,
  input: EventInput,
  id: string,
  requestHash: string | null,
  answer: EventResult | undefined | null,
  now: Date,
): EventInsert {
  return {
    id,
    workspace_id: workspaceId,
    type: input.type,
    entity_type: input.record.entity_type,
    entity_id: input.record.entity_id,
    fields: input.record.fields,
    previous: input.previous_fields ?? null,
    idempotency_key: input.idempotency_key ?? null,
    request_hash: requestHash,
    // Kept for a repeat of the event's idempotency key to replay. Without a
    // key nothing reads it: this path's deliveries all name their event,
    // which is how GET /v1/events/{id} finds them.
    answer: input.idempotency_key ? (answer ?? null) : null,
    // The moment its deliveries' records say it occurred (see event-record.ts).
    created_at: now.toISOString(),
  }
}

/** A rule's delivery for one event; with a batching window, a new open batch of one. */
function plannedDelivery(
  workspaceId: string,
  rule: RuleRow,
  input: EventInput,
  eventId: string,
  now: Date,
): PlannedDelivery {
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
      // One event's delivery reads its event's record (migrations/0020); a
      // batch keeps the list of its records.
      record: batching ? JSON.stringify([recordOf(input, eventId, now)]) : null,
      previous: input.previous_fields ? JSON.stringify(input.previous_fields) : null,
      max_attempts: rule.execution.max_attempts,
      batch_open: batching,
    },
    runAt: new Date(now.getTime() + delaySeconds * 1000),
    // A rate-limited rule's sends are spaced job by job; an open batch needs its own.
    shareJob: !batching && !rule.execution.rate_limit_per_second,
  }
}

interface Repeat {
  index: number
  input: EventInput
  hash: string | null
}

/**
 * Answers events whose idempotency key was held, in order: the holder's
 * first answer when the event is the same, a conflict when it is not. A
 * holder recorded before events kept a request hash answers any repeat.
 */
async function firstAnswers(
  trx: Transaction<Database>,
  context: IngestContext,
  repeats: Repeat[],
): Promise<EventResult[]> {
  if (repeats.length === 0) return []
  const keys = [...new Set(repeats.map((repeat) => repeat.input.idempotency_key as string))]
  const holders = await findKeyHolders(trx, context.workspaceId, keys)
  return repeats.map(({ index, input, hash }) => {
    const key = input.idempotency_key as string
    const first = holders.get(key)
    // The insert found the key held in this transaction; a holder moves it
    // aside only when it is taken over, and that writes the new holder too.
    if (!first) throw new Error(`idempotency key held, but no event holds it: ${key}`)
    if (first.request_hash !== null && first.request_hash !== hash) {
      const path = context.batch ? `events/${index}/idempotency_key` : 'idempotency_key'
      throw errors.conflict(
        `${path}: "${key}" was used for a different event (${first.id}) within the last 24 hours; send a new event with a new key`,
      )
    }
    const answer = (first.answer ?? {}) as Partial<EventResult>
    return {
      id: first.id,
      type: first.type,
      webhooks_enabled: answer.webhooks_enabled ?? true,
      matched_rules: answer.matched_rules ?? [],
      deliveries: answer.deliveries ?? [],
      duplicate: true,
    }
  })
}

export { recordOf }
