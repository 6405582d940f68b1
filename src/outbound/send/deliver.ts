import type { Logger } from 'pino'
import { evaluate } from '../../conditions/evaluate.js'
import type { Db } from '../../db/database.js'
import type { DeliveryRow } from '../../db/tables/deliveries.js'
import type { RuleRow } from '../../db/tables/rules.js'
import type { Job, JobHandler } from '../../queue/types.js'
import type { SecretBox } from '../../security/secret-box.js'
import { activeSigningSecrets } from '../../settings/signing-secrets.js'
import { findNewerEventForRecord } from '../deliveries/delivery-repository.js'
import { rescheduleDelivery } from '../deliveries/schedule.js'
import { nextRetryDelayMs } from '../retry-schedule.js'
import { ruleCredentials } from '../rules/rule-service.js'
import {
  type DeliveryRecord,
  type OutboundRequest,
  redactRequest,
  renderRuleRequest,
  signOutbound,
} from './build-request.js'
import type { FairnessLimiter } from './fairness.js'
import type { Sender, SendResult } from './http-sender.js'
import { noticeRequest } from './notices.js'
import { recordOutcome } from './record-outcome.js'

export interface DeliveryEngine {
  db: Db
  box: SecretBox
  sender: Sender
  limiter: FairnessLimiter
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>
  responseBodyLimit: number
  ruleAutoDisableHours: number
}

// How long a send that found its rule or workspace at its cap waits before trying again.
const DEFER_MS = 250
const NOTICE_TIMEOUT_MS = 10_000

/**
 * The `delivery.send` job: one attempt of one delivery. The delivery's
 * `job_id` says which job may run it, so a stale or duplicated job does
 * nothing. No transaction or lock is held during the HTTP call; the outcome is
 * written after it in one transaction.
 */
export function deliveryJobHandler(engine: DeliveryEngine): JobHandler {
  return async (job: Job) => {
    const { deliveryId } = job.payload as { deliveryId: string }
    const delivery = await engine.db
      .selectFrom('deliveries')
      .selectAll()
      .where('id', '=', deliveryId)
      .executeTakeFirst()
    // job_id is int8, which our pg type parser reads as a number; job ids are strings.
    if (!delivery || String(delivery.job_id) !== job.id) return
    if (delivery.status !== 'queued' && delivery.status !== 'delivering') return
    await runAttempt(engine, delivery, { jobId: job.id })
  }
}

export interface AttemptOutcome {
  delivery: DeliveryRow
  request: ReturnType<typeof redactRequest> | null
  result: SendResult | null
}

/** Runs one attempt (from a job, or inline for the execute endpoint) and records it. */
export async function runAttempt(
  engine: DeliveryEngine,
  delivery: DeliveryRow,
  options: { jobId: string | null },
): Promise<AttemptOutcome> {
  const { db } = engine
  const workspace = await db
    .selectFrom('workspaces')
    .select(['webhooks_enabled', 'crm_callback_url'])
    .where('id', '=', delivery.workspace_id)
    .executeTakeFirst()
  if (!workspace) return { delivery, request: null, result: null }

  let rule: RuleRow | undefined
  if (delivery.kind === 'rule') {
    rule = delivery.rule_id
      ? await db
          .selectFrom('rules')
          .selectAll()
          .where('id', '=', delivery.rule_id)
          .executeTakeFirst()
      : undefined
    const cancelReason = !rule
      ? 'the rule was deleted'
      : !rule.enabled && delivery.mass_post_id === null && delivery.event_id !== null
        ? 'the rule is disabled'
        : !workspace.webhooks_enabled
          ? 'webhooks are switched off for the workspace'
          : await newerEventCancels(engine, delivery, rule)
    if (cancelReason) return cancel(engine, delivery, cancelReason)
  } else if (!workspace.crm_callback_url) {
    return cancel(engine, delivery, 'no CRM callback URL is set')
  }

  const capKey = rule?.id ?? `notice:${delivery.workspace_id}`
  if (options.jobId) {
    const wait = rule ? engine.limiter.rateWaitMs(rule.id, rule.execution.rate_limit_per_second) : 0
    if (wait > 0 || !engine.limiter.tryAcquire(capKey, delivery.workspace_id)) {
      await rescheduleDelivery(
        db,
        delivery,
        new Date(Date.now() + Math.max(wait, jitter(DEFER_MS))),
      )
      return { delivery, request: null, result: null }
    }
  } else {
    // A person is waiting on an inline send: it goes now, but counts against the caps.
    engine.limiter.acquire(capKey, delivery.workspace_id)
  }

  try {
    // Close a batch and mark the delivery as in flight; a stale job finds no row.
    const claimed = await db
      .updateTable('deliveries')
      .set({ status: 'delivering', batch_open: false, updated_at: new Date() })
      .where('id', '=', delivery.id)
      .where('status', 'in', ['queued', 'delivering'])
      .$if(options.jobId !== null, (q) => q.where('job_id', '=', Number(options.jobId)))
      .returningAll()
      .executeTakeFirst()
    if (!claimed) return { delivery, request: null, result: null }

    const secrets = await activeSigningSecrets(db, engine.box, delivery.workspace_id)
    const credentials = rule ? ruleCredentials(engine.box, rule) : { type: 'none' as const }
    let unsigned: OutboundRequest
    try {
      unsigned = rule
        ? renderRuleRequest(rule, claimed.record as DeliveryRecord | DeliveryRecord[], credentials)
        : noticeRequest(workspace.crm_callback_url as string, claimed.record)
    } catch (err) {
      // A template that cannot render will not render on a retry either.
      const result = {
        status: null,
        headers: null,
        body: null,
        durationMs: 0,
        error: `render failed: ${(err as Error).message}`,
      }
      await recordOutcome(engine, claimed, rule, null, result, { final: true })
      return { delivery: claimed, request: null, result }
    }
    const signed = signOutbound(unsigned, delivery.id, secrets)
    const timeoutMs = rule?.execution.timeout_ms ?? NOTICE_TIMEOUT_MS
    const result = await engine.sender.send(signed, { timeoutMs })
    const redacted = redactRequest(signed, credentials, engine.responseBodyLimit)
    const updated = await recordOutcome(engine, claimed, rule, redacted, result, { final: false })
    return { delivery: updated, request: redacted, result }
  } finally {
    engine.limiter.release(capKey, delivery.workspace_id)
  }
}

/**
 * A delayed delivery is dropped when a newer event for the same record no
 * longer matches the rule ("send 10 minutes after Qualified" must not fire for
 * a lead un-qualified in between).
 */
async function newerEventCancels(
  engine: DeliveryEngine,
  delivery: DeliveryRow,
  rule: RuleRow,
): Promise<string | null> {
  if (rule.execution.delay_seconds === 0 || !delivery.event_id || delivery.attempts > 0) return null
  if (!delivery.entity_type || !delivery.entity_id) return null
  const newer = await findNewerEventForRecord(
    engine.db,
    delivery.workspace_id,
    delivery.entity_type,
    delivery.entity_id,
    delivery.event_id,
  )
  if (!newer) return null
  const stillMatches = evaluate(rule.conditions ?? undefined, {
    fields: newer.fields,
    previous: newer.previous ?? undefined,
  })
  return stillMatches
    ? null
    : `a newer event (${newer.id}) for the record no longer matches the rule`
}

async function cancel(
  engine: DeliveryEngine,
  delivery: DeliveryRow,
  reason: string,
): Promise<AttemptOutcome> {
  const updated = await engine.db
    .updateTable('deliveries')
    .set({
      status: 'cancelled',
      last_error: reason,
      finished_at: new Date(),
      updated_at: new Date(),
      batch_open: false,
    })
    .where('id', '=', delivery.id)
    .where('status', 'in', ['queued', 'delivering'])
    .returningAll()
    .executeTakeFirst()
  engine.log.info({ delivery: delivery.id, reason }, 'delivery cancelled')
  return { delivery: updated ?? delivery, request: null, result: null }
}

const jitter = (ms: number) => ms + Math.floor(Math.random() * ms)

export { nextRetryDelayMs }
