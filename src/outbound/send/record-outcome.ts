import { sql, type Transaction } from 'kysely'
import type { Database } from '../../db/database.js'
import type { DeliveryRow } from '../../db/tables/deliveries.js'
import type { RuleDisabledCode, RuleRow } from '../../db/tables/rules.js'
import type { SendResult } from '../../net/http-sender.js'
import { rescheduleDelivery } from '../deliveries/schedule.js'
import { nextRetryDelayMs } from '../retry-schedule.js'
import type { redactRequest } from './build-request.js'
import type { DeliveryEngine } from './engine.js'
import { enqueueNotice } from './notices.js'
import { mapResponseBody } from './parse-response.js'

/** A rule whose templates run over their render budget this many deliveries in a row is disabled. */
export const OVER_BUDGET_IN_A_ROW = 3

const isSuccess = (rule: RuleRow | undefined, status: number | null) =>
  status !== null &&
  (rule?.execution.success === '200' ? status === 200 : status >= 200 && status < 300)

/**
 * Writes one attempt's outcome in one transaction: the attempt row, the
 * delivery's new state, the next attempt's job when one is due, and the
 * notices the outcome calls for (mapped fields, final failure, rule disabled).
 */
export async function recordOutcome(
  engine: DeliveryEngine,
  delivery: DeliveryRow,
  rule: RuleRow | undefined,
  request: (() => ReturnType<typeof redactRequest>) | null,
  result: SendResult,
  options: {
    final: boolean
    /** When the request was signed; with a rule, a first success is kept in the delivery's row. */
    sentAt?: Date
    /** The delivery failed because its templates ran over their render budget: why, in words. */
    overBudget?: string
  },
): Promise<DeliveryRow> {
  const attempt = delivery.attempts + 1
  const now = new Date()
  const ok = isSuccess(rule, result.status)
  const error = ok
    ? null
    : (result.error ??
      `receiver answered ${result.status}${rule?.execution.success === '200' ? ' (rule needs exactly 200)' : ''}`)
  // 410 retires a rule's receiver; the CRM callback is not retired by it: a
  // notice (an inbound record among them) is retried like any failure.
  const gone = rule !== undefined && result.status === 410
  const retryable = !ok && !options.final && !gone && attempt < delivery.max_attempts
  const mapping =
    ok && rule && rule.response.mapping.length > 0
      ? mapResponseBody(rule.response, result.body ?? '')
      : null
  const mapped = mapping?.mapped ?? null
  const attemptRequest = () =>
    request?.() ?? { method: '', url: '', headers: {}, body: '', body_truncated: false }

  // Delivered, with no fields to push and no rule to clear (the common case):
  // written in a round with other attempts' outcomes, one statement for all.
  if (ok && result.status !== null && mapped === null && !rule?.failing_since) {
    // A rule's first attempt stays in the delivery's row, its request not
    // copied: history renders it again from the record and the rule version.
    const inRow =
      attempt === 1 && rule?.version_id != null && options.sentAt !== undefined
        ? { sentAt: options.sentAt, ruleVersionId: rule.version_id }
        : null
    const found = await engine.rounds.succeeded({
      deliveryId: delivery.id,
      workspaceId: delivery.workspace_id,
      attempt,
      request: inRow ? null : attemptRequest(),
      inRow,
      status: result.status,
      headers: result.headers,
      body: result.body,
      durationMs: result.durationMs,
      at: now,
    })
    if (!found) throw new Error(`delivery ${delivery.id} was deleted while it was sent`)
    // What the statement wrote; nothing else changes a delivery in flight.
    return {
      ...delivery,
      ...(inRow && {
        sent_at: inRow.sentAt,
        duration_ms: result.durationMs,
        rule_version_id: inRow.ruleVersionId,
        response_headers: result.headers,
        response_body: result.body,
      }),
      attempts: attempt,
      status: 'succeeded',
      response_status: result.status,
      response_mapped: null,
      last_error: null,
      finished_at: now,
      next_attempt_at: null,
      updated_at: now,
    }
  }

  return engine.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('delivery_attempts')
      .values({
        delivery_id: delivery.id,
        workspace_id: delivery.workspace_id,
        attempt,
        request: JSON.stringify(attemptRequest()),
        response_status: result.status,
        response_headers: result.headers ? JSON.stringify(result.headers) : null,
        response_body: result.body,
        duration_ms: result.durationMs,
        error,
      })
      .execute()

    const updated = await trx
      .updateTable('deliveries')
      .set({
        attempts: attempt,
        status: ok ? 'succeeded' : retryable ? 'queued' : 'failed',
        response_status: result.status,
        response_mapped: mapped ? JSON.stringify(mapped) : null,
        response_unmapped: mapping?.unmapped.length ? JSON.stringify(mapping.unmapped) : null,
        last_error: error,
        finished_at: retryable ? null : now,
        next_attempt_at: null,
        updated_at: now,
      })
      .where('id', '=', delivery.id)
      .returningAll()
      .executeTakeFirstOrThrow()

    if (retryable) {
      const retryAfter =
        result.status === 429 || result.status === 503 ? result.headers?.['retry-after'] : undefined
      const delay = nextRetryDelayMs({
        attempt,
        maxAttempts: delivery.max_attempts,
        retryAfterHeader: retryAfter,
        now,
      })
      await rescheduleDelivery(trx, delivery, new Date(now.getTime() + (delay ?? 0)))
      return {
        ...updated,
        status: 'queued' as const,
        next_attempt_at: new Date(now.getTime() + (delay ?? 0)),
      }
    }
    if (!rule) {
      // No notice can report a notice the CRM refused: the log and the metric do,
      // and an inbound call shows it as `forwarding: failed`.
      if (updated.status === 'failed') {
        engine.log.error(
          {
            delivery: delivery.id,
            workspace: delivery.workspace_id,
            type: delivery.event_type,
            attempts: attempt,
            error,
          },
          'a notice to the CRM callback failed for good',
        )
        engine.metrics?.noticesFailed.inc({ type: delivery.event_type ?? 'unknown' })
      }
      return updated
    }

    const about = {
      entity_type: delivery.entity_type,
      entity_id: delivery.entity_id,
      event_id: delivery.event_id,
    }
    if (ok) {
      if (rule.failing_since) {
        await trx
          .updateTable('rules')
          .set({ failing_since: null })
          .where('id', '=', rule.id)
          .execute()
      }
      if (mapped && Object.keys(mapped).length > 0) {
        await enqueueNotice(
          trx,
          delivery.workspace_id,
          'record.update',
          {
            delivery_id: delivery.id,
            rule_id: rule.id,
            entity_type: delivery.entity_type,
            entity_id: delivery.entity_id,
            fields: mapped,
          },
          about,
        )
      }
      return updated
    }

    if (rule.notify_on_failure) {
      await enqueueNotice(
        trx,
        delivery.workspace_id,
        'delivery.failed',
        {
          delivery_id: delivery.id,
          rule_id: rule.id,
          rule_title: rule.title,
          entity_type: delivery.entity_type,
          entity_id: delivery.entity_id,
          attempts: attempt,
          response_status: result.status,
          error,
        },
        about,
      )
    }
    // Failing since the first failure after a success; a rule failing for too long is disabled.
    const failing = await trx
      .updateTable('rules')
      .set({ failing_since: sql<Date>`coalesce(failing_since, now())` })
      .where('id', '=', rule.id)
      .returning('failing_since')
      .executeTakeFirst()
    const failingHours = failing?.failing_since
      ? (now.getTime() - failing.failing_since.getTime()) / 3_600_000
      : 0
    const [code, reason]: [RuleDisabledCode, string] | [null, null] = gone
      ? ['receiver_gone', 'the receiver answered 410 Gone']
      : options.overBudget && (await overBudgetBefore(trx, delivery))
        ? [
            'over_render_budget',
            `${options.overBudget} on ${OVER_BUDGET_IN_A_ROW} deliveries in a row`,
          ]
        : failingHours >= engine.ruleAutoDisableHours
          ? ['failing_too_long', `every delivery failed for ${engine.ruleAutoDisableHours} hours`]
          : [null, null]
    if (reason && rule.enabled) {
      await trx
        .updateTable('rules')
        .set({ enabled: false, disabled_reason: reason, disabled_code: code, updated_at: now })
        .where('id', '=', rule.id)
        .execute()
      await enqueueNotice(trx, delivery.workspace_id, 'rule.disabled', {
        rule_id: rule.id,
        rule_title: rule.title,
        code,
        reason,
      })
      engine.log.warn({ rule: rule.id, reason }, 'rule disabled')
    }
    return updated
  })
}

/**
 * Whether the rule's deliveries finished just before this one also failed
 * over their render budget: a template that blew it that often will not fit
 * next time either, and each try costs a render thread its budget.
 */
async function overBudgetBefore(
  trx: Transaction<Database>,
  delivery: DeliveryRow,
): Promise<boolean> {
  const before = await trx
    .selectFrom('deliveries')
    .select('last_error')
    .where('workspace_id', '=', delivery.workspace_id)
    .where('rule_id', '=', delivery.rule_id)
    .where('id', '!=', delivery.id)
    .where('status', 'in', ['succeeded', 'failed'])
    .orderBy('id', 'desc')
    .limit(OVER_BUDGET_IN_A_ROW - 1)
    .execute()
  return (
    before.length === OVER_BUDGET_IN_A_ROW - 1 &&
    before.every((row) => row.last_error?.includes(OVER_BUDGET_MARK))
  )
}

/** What every over-budget reason says (render-budget.ts's `overBudget`). */
const OVER_BUDGET_MARK = 'exceeded its render budget of'
