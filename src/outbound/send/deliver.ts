import { evaluate } from '../../conditions/evaluate.js'
import type { DeliveryRow } from '../../db/tables/deliveries.js'
import type { RuleRow } from '../../db/tables/rules.js'
import type { OutboundRequest, SendResult } from '../../net/http-sender.js'
import { PutOffJobError } from '../../queue/errors.js'
import type { Job, JobHandler } from '../../queue/types.js'
import type { RuleAuthInput } from '../../schemas/rule-parts.js'
import { TemplateError } from '../../templates/render.js'
import { deliveryRecords, findNewerEventForRecord } from '../deliveries/delivery-repository.js'
import { holdNotice } from '../deliveries/held-notices.js'
import { holdClaimed } from '../deliveries/pause.js'
import { nextRetryDelayMs } from '../retry-schedule.js'
import type { AttemptWorkspace } from './attempt-rounds.js'
import { type DeliveryRecord, redactRequest, signOutbound } from './build-request.js'
import { observeDelivery } from './delivery-metrics.js'
import type { DeliveryEngine } from './engine.js'
import { destinationHost } from './fairness.js'
import { claimReadOf } from './idle-claim.js'
import { noticeRequest } from './notices.js'
import { jitter, putOffAtCap, putOffAtRate, putOffAtRenderShare } from './put-off.js'
import { recordOutcome } from './record-outcome.js'
import { isPlainRequest, renderRequest } from './render-request.js'
import type { RenderShare } from './render-shares.js'

// How long a send that found its rule, host or workspace at its cap may wait in
// memory for a slot, and about how long a deferred one waits before trying again.
const DEFER_MS = 250
const NOTICE_TIMEOUT_MS = 10_000

/**
 * The `delivery.send` job: one attempt of each of its deliveries (up to
 * DELIVERIES_PER_JOB of one rule, or one workspace's notices), each on its
 * own: one that waits on its receiver holds only its own slot of the worker
 * (`pieceDone`). A delivery's `job_id` says which job may run it, so a stale
 * or duplicated job, or one whose delivery was cancelled, resent or put off
 * meanwhile, leaves it alone. No transaction or lock is held during the HTTP
 * calls; each outcome is written after its call.
 *
 * An attempt that fails inside Hookline (not at the receiver) fails the job
 * once its others are done: the next run sends only the deliveries still open
 * under this job.
 */
export function deliveryJobHandler(engine: DeliveryEngine): JobHandler {
  return async (job: Job) => {
    // What the attempts read besides their deliveries is the same for all of
    // them (one rule, one workspace, named by the job's own columns), read
    // beside the first claims: one round trip, not one per delivery. An idle
    // worker's claim read both already (see idle-claim.ts).
    const read = claimReadOf(engine, job)
    const context = read?.context
      ? Promise.resolve(read.context)
      : job.workspaceId
        ? readContext(engine, job.workspaceId, job.queueKey)
        : Promise.resolve(undefined)
    // Once each delivery is sent (or done without sending), the job only
    // writes outcomes: the worker may read beside its next claim again.
    const ids = deliveryIdsOf(job.payload)
    let unsent = ids.length
    const settled = await Promise.allSettled(
      ids.map((id) => {
        let done = false
        const sent = () => {
          if (done) return
          done = true
          if (--unsent === 0) job.finishing()
        }
        return sendOne(engine, job, id, context, read?.deliveries.get(id), sent).finally(() => {
          sent()
          job.pieceDone()
        })
      }),
    )
    const failed = settled.find((outcome) => outcome.status === 'rejected')
    if (failed) throw failed.reason
    // Deliveries that found a cap full wait for this same job to run again:
    // one write for the job, not a new job and a write for each of them.
    const putOff = settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : 0))
    const delayMs = Math.max(0, ...putOff)
    if (delayMs > 0) throw new PutOffJobError(jitter(delayMs))
  }
}

/** A job's deliveries: `deliveryIds`, or the one `deliveryId` of a job queued before jobs were shared. */
function deliveryIdsOf(payload: unknown): string[] {
  const { deliveryIds, deliveryId } = payload as { deliveryIds?: string[]; deliveryId?: string }
  return deliveryIds ?? (deliveryId ? [deliveryId] : [])
}

/** Sends one of a job's deliveries; answers how long it was put off for (0: it was not). */
async function sendOne(
  engine: DeliveryEngine,
  job: Job,
  deliveryId: string,
  context: Promise<AttemptContext | undefined>,
  claimed: DeliveryRow | undefined,
  sent: () => void,
): Promise<number> {
  // The delivery is marked in flight for this job as it is read (a stale
  // job, or a delivery finished or cancelled meanwhile, finds nothing); an
  // idle claim may have read it already. One it did not read (its batch was
  // open, or it was not open for this job) goes through the rounds' claim.
  const [delivery, given] = await Promise.all([
    claimed ? Promise.resolve(claimed) : engine.rounds.claim(deliveryId, job.id),
    context,
  ])
  if (!delivery) return 0
  try {
    const outcome = await runAttempt(engine, delivery, { jobId: job.id, context: given, sent })
    return outcome.putOffMs ?? 0
  } catch (err) {
    // Its last run: the job dies, and the delivery must not stay `delivering` for good.
    if (job.attempt >= job.maxAttempts) {
      await giveUp(engine, delivery.id, job, err).catch((giveUpErr: unknown) =>
        engine.log.error({ err: giveUpErr, delivery: delivery.id }, 'giving up failed'),
      )
    }
    throw err
  }
}

/**
 * Every run of a delivery's job failed inside Hookline, not at the receiver
 * (credentials that no longer decrypt, a database that kept failing): the
 * delivery ends failed, with an attempt that says so. The detail is logged,
 * not shown: it is ours, not the tenant's.
 */
async function giveUp(engine: DeliveryEngine, deliveryId: string, job: Job, err: unknown) {
  engine.log.error(
    { err, delivery: deliveryId, job: job.id },
    'delivery job failed on its last run',
  )
  await failUnsent(
    engine,
    { id: deliveryId, jobId: Number(job.id) },
    `gave up: sending failed inside Hookline on each of ${job.attempt} runs (see the service log)`,
  )
}

/**
 * Ends a delivery failed without sending it, with an attempt carrying
 * `error`, as long as it is still open and still names `jobId` (one
 * cancelled, resent or finished meanwhile is left alone). Answers whether it
 * did. The failure notice goes out as for any final failure.
 */
export async function failUnsent(
  engine: DeliveryEngine,
  target: { id: string; jobId: number | null },
  error: string,
): Promise<boolean> {
  const delivery = await engine.db
    .selectFrom('deliveries')
    .selectAll()
    .where('id', '=', target.id)
    .where('status', 'in', ['queued', 'delivering'])
    .where((eb) =>
      target.jobId === null ? eb('job_id', 'is', null) : eb('job_id', '=', target.jobId),
    )
    .executeTakeFirst()
  if (!delivery) return false
  const rule = delivery.rule_id
    ? await engine.db
        .selectFrom('rules')
        .selectAll()
        .where('id', '=', delivery.rule_id)
        .executeTakeFirst()
    : undefined
  const result = { status: null, headers: null, body: null, durationMs: 0, error }
  observeDelivery(
    engine.metrics,
    await recordOutcome(engine, delivery, rule, null, result, { final: true }),
    result,
  )
  return true
}

export interface AttemptOutcome {
  delivery: DeliveryRow
  request: ReturnType<typeof redactRequest> | null
  result: SendResult | null
  /** Not sent: a cap was full; its job runs again in this many ms. */
  putOffMs?: number
}

/** What an attempt reads besides its delivery. */
interface AttemptContext {
  workspaceId: string
  ruleId: string | null
  workspace: AttemptWorkspace | undefined
  rule: RuleRow | undefined
  secrets: string[]
}

async function readContext(
  engine: DeliveryEngine,
  workspaceId: string,
  ruleId: string | null,
): Promise<AttemptContext> {
  const { workspace, rule, secrets } = await engine.rounds.context(workspaceId, ruleId)
  return { workspaceId, ruleId, workspace, rule, secrets }
}

/**
 * Runs one attempt (from a job, or inline for the execute endpoint) and
 * records it. A job passes its delivery already claimed (marked delivering
 * for that job) and the context it read beside it; an inline attempt claims
 * the delivery here.
 */
export async function runAttempt(
  engine: DeliveryEngine,
  delivery: DeliveryRow,
  options: {
    jobId: string | null
    context?: AttemptContext | undefined
    /** Called once the request is sent, before its outcome is written. */
    sent?: () => void
  },
): Promise<AttemptOutcome> {
  const { db } = engine
  const ruleId = delivery.kind === 'rule' ? delivery.rule_id : null
  const given = options.context
  const { workspace, rule, secrets } =
    given?.workspaceId === delivery.workspace_id && given.ruleId === ruleId
      ? given
      : await readContext(engine, delivery.workspace_id, ruleId)
  if (!workspace) return { delivery, request: null, result: null }

  if (delivery.kind === 'rule') {
    if (!rule) return cancel(engine, delivery, 'the rule was deleted')
    if (!rule.enabled && delivery.mass_post_id === null && delivery.event_id !== null)
      return cancel(engine, delivery, 'the rule is disabled')
    // Switched off is a pause: the delivery waits, queued, for the switch.
    if (!workspace.webhooks_enabled) {
      await holdClaimed(engine.db, delivery, options.jobId)
      return { delivery, request: null, result: null }
    }
    const newer = await newerEventCancels(engine, delivery, rule)
    if (newer) return cancel(engine, delivery, newer)
  } else if (!workspace.crm_callback_url) {
    // A sender's record is never dropped for want of a callback: it waits for one.
    if (delivery.event_type === 'inbound.record') {
      const held = await holdNotice(db, delivery, options.jobId)
      return { delivery: held ?? delivery, request: null, result: null }
    }
    return cancel(engine, delivery, 'no CRM callback URL is set')
  }

  // A costly template waits for a render thread: a job's delivery takes one
  // of its workspace's few shares of them first, else it is put off, so
  // renders waiting never hold more than those few of the worker's slots.
  let share: RenderShare | null | undefined
  if (options.jobId && rule && !isPlainRequest(rule.request)) {
    share = engine.renders.take(delivery.workspace_id)
    if (!share) {
      await putOffAtRenderShare(engine, delivery, options.jobId, rule, DEFER_MS)
      return { delivery, request: null, result: null }
    }
  }
  let rendered: Rendered | AttemptOutcome
  try {
    rendered = await claimAndRender(engine, delivery, rule, workspace, options.jobId)
  } finally {
    share?.give()
  }
  if (!('unsigned' in rendered)) return rendered
  const { claimed, unsigned, credentials } = rendered
  if (rule && unsigned.droppedHeaders) {
    engine.warnOnce(
      `dropped-headers:${rule.id}`,
      { rule: rule.id, workspace: rule.workspace_id, headers: unsigned.droppedHeaders },
      'rule sets headers that steer routing or framing; sent without them',
    )
  }
  // The signing time is kept with the outcome: history signs the request again with it.
  const sentAt = new Date()
  const signed = signOutbound(unsigned, delivery.id, secrets, sentAt)
  const timeoutMs = rule?.execution.timeout_ms ?? NOTICE_TIMEOUT_MS
  // The host is taken from the rendered URL (a template may put it there). A
  // notice counts under its callback's host, like any request that goes there:
  // a CRM that hangs holds its share of the slots, not every one.
  const slot = {
    rule: rule?.id ?? `notice:${delivery.workspace_id}`,
    workspace: delivery.workspace_id,
    host: destinationHost(signed.target ?? signed.url),
  }

  // The caps count requests at the receiver, so the slot is taken just for the
  // HTTP exchange: our reads and writes around it do not hold it.
  if (!options.jobId) {
    // A person is waiting on an inline send: it goes now, but counts against the caps.
    engine.limiter.acquire(slot)
  } else if (!(await engine.limiter.acquireSoon(slot, DEFER_MS))) {
    // Its job runs again later; a cap held for long takes its due backlog along.
    const putOffMs = await putOffAtCap(engine, delivery, slot, DEFER_MS)
    return { delivery, request: null, result: null, putOffMs }
  }
  let result: SendResult
  try {
    result = await engine.sender.send(signed, { timeoutMs })
  } finally {
    engine.limiter.release(slot)
    options.sent?.()
  }
  // Redacted only when it is kept or asked for: a first attempt that succeeds
  // keeps no copy of its request (history renders it again).
  let redacted: ReturnType<typeof redactRequest> | undefined
  const request = () => {
    redacted ??= redactRequest(signed, credentials, engine.responseBodyLimit)
    return redacted
  }
  const updated = await recordOutcome(engine, claimed, rule, request, result, {
    final: false,
    sentAt,
  })
  observeDelivery(engine.metrics, updated, result)
  return { delivery: updated, request: options.jobId ? null : request(), result }
}

interface Rendered {
  claimed: DeliveryRow
  unsigned: OutboundRequest
  credentials: RuleAuthInput
}

/**
 * The attempt's request, unsigned: after its rule's rate limit (a job's
 * delivery over it is put off) and, inline, the claim. A template that does
 * not render fails the delivery for good: it will not render on a retry
 * either.
 */
async function claimAndRender(
  engine: DeliveryEngine,
  delivery: DeliveryRow,
  rule: RuleRow | undefined,
  workspace: AttemptWorkspace,
  jobId: string | null,
): Promise<Rendered | AttemptOutcome> {
  const wait =
    jobId && rule
      ? await engine.limiter.takeToken(rule.id, rule.execution.rate_limit_per_second)
      : 0
  if (jobId && rule && wait > 0) {
    await putOffAtRate(engine, delivery, jobId, rule, wait, DEFER_MS)
    return { delivery, request: null, result: null }
  }

  // Inline: close a batch and mark the delivery as in flight.
  const claimed = jobId
    ? delivery
    : await engine.db
        .updateTable('deliveries')
        .set({ status: 'delivering', batch_open: false, updated_at: new Date() })
        .where('id', '=', delivery.id)
        .where('status', 'in', ['queued', 'delivering'])
        .returningAll()
        .executeTakeFirst()
  if (!claimed) return { delivery, request: null, result: null }

  const credentials = rule ? engine.credentialsOf(rule) : { type: 'none' as const }
  try {
    // A job's claim read the record with the delivery; an inline send reads it here.
    const records = rule ? await deliveryRecords(engine.db, claimed) : null
    const unsigned = rule
      ? await renderRequest(rule, recordsOrThrow(records), credentials)
      : noticeRequest(workspace.crm_callback_url as string, claimed.record)
    return { claimed, unsigned, credentials }
  } catch (err) {
    const message = (err as Error).message
    const result = {
      status: null,
      headers: null,
      body: null,
      durationMs: 0,
      error: `render failed: ${message}`,
    }
    const overBudget =
      err instanceof TemplateError && err.code === 'template_budget' ? message : undefined
    observeDelivery(
      engine.metrics,
      await recordOutcome(engine, claimed, rule, null, result, { final: true, overBudget }),
      result,
    )
    return { delivery: claimed, request: null, result }
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
  if (updated) observeDelivery(engine.metrics, updated, null)
  engine.log.info({ delivery: delivery.id, reason }, 'delivery cancelled')
  return { delivery: updated ?? delivery, request: null, result: null }
}

export { nextRetryDelayMs }

/** A rule delivery's records; one whose event was purged cannot be rendered, now or later. */
function recordsOrThrow(records: DeliveryRecord | DeliveryRecord[] | null) {
  if (records === null) throw new Error('the event it was made for is gone')
  return records
}
