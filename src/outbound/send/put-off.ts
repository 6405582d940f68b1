import type { DeliveryRow } from '../../db/tables/deliveries.js'
import type { RuleRow } from '../../db/tables/rules.js'
import { postponeBacklog, spaceRuleBacklog } from '../deliveries/postpone-backlog.js'
import { deferDelivery } from '../deliveries/schedule.js'
import type { DeliveryEngine } from './engine.js'
import type { Slot } from './fairness.js'

/**
 * A job's send found its rule, host or workspace at its cap: it waits for
 * its job to run again (the job handler puts the whole job off, see
 * deliver.ts), so nothing is written for the delivery itself. When the cap's
 * slots are held for long (`FairnessLimiter.putOff`), the rest of the cap's
 * backlog (a host's: the rule's) due within the delay is put off with it, in
 * one statement, so the queue reaches other rules' and workspaces' jobs
 * instead of taking this backlog job by job only to put each off. Answers
 * the delay.
 */
export async function putOffAtCap(
  engine: DeliveryEngine,
  delivery: DeliveryRow,
  slot: Slot,
  minMs: number,
): Promise<number> {
  const { delayMs, backlog } = engine.limiter.putOff(slot, minMs)
  // A rule's jobs carry its id as queue_key; a notice's cap key names no jobs.
  const target =
    backlog && 'ruleKey' in backlog
      ? delivery.rule_id === backlog.ruleKey
        ? { ruleId: backlog.ruleKey }
        : null
      : backlog
  // A row a run before this version marked in flight (or one an inline send
  // left so) reads queued again while it waits.
  if (delivery.status === 'delivering') {
    await engine.db
      .updateTable('deliveries')
      .set({ status: 'queued', updated_at: new Date() })
      .where('id', '=', delivery.id)
      .where('status', '=', 'delivering')
      .execute()
  }
  if (target) {
    // Worth having, not needed: on failure the backlog is put off job by job as before.
    await postponeBacklog(engine.db, target, delayMs).then(
      (moved) => engine.log.info({ ...target, moved, delayMs }, 'backlog put off at its cap'),
      (err: unknown) => engine.log.warn({ err, ...target }, 'putting a backlog off failed'),
    )
  }
  return delayMs
}

/**
 * A job's send found its rule over its rate limit: the delivery waits for
 * the next token (a new job), and, at most once a second, the rule's other
 * due jobs are spaced at the rate in one statement, so the queue does not
 * take a burst's backlog job by job only to defer each.
 */
export async function putOffAtRate(
  engine: DeliveryEngine,
  delivery: DeliveryRow,
  jobId: string,
  rule: RuleRow,
  waitMs: number,
  minMs: number,
): Promise<void> {
  const perSecond = rule.execution.rate_limit_per_second
  if (perSecond)
    await spaceBacklogOnce(engine, rule.id, rule.id, perSecond, 'backlog spaced at its rate')
  await deferDelivery(
    engine.db,
    delivery,
    jobId,
    new Date(Date.now() + Math.max(waitMs, jitter(minMs))),
  )
}

/**
 * A job's delivery found its workspace holding all of its shares of the
 * render threads (render-shares.ts): it goes back to queued for a little
 * while (a new job, no attempt counted), and, at most once a second, the
 * rule's other due jobs are spaced at the pace the workspace's renders have
 * been going, in one statement, so the queue does not take a runaway rule's
 * backlog job by job only to put each off, ahead of other workspaces' jobs.
 */
export async function putOffAtRenderShare(
  engine: DeliveryEngine,
  delivery: DeliveryRow,
  jobId: string,
  rule: RuleRow,
  minMs: number,
): Promise<void> {
  // Its own key in the limiter's spacing record: the rule's rate limit has another.
  await spaceBacklogOnce(
    engine,
    `render:${rule.id}`,
    rule.id,
    () => engine.renders.perSecond(delivery.workspace_id),
    'backlog spaced at the pace of its workspace renders',
  )
  await deferDelivery(engine.db, delivery, jobId, new Date(Date.now() + jitter(minMs)))
}

/**
 * At most once a second per `key` (the limiter's spacing record), spaces the
 * rule's other due jobs at `perSecond` in one statement. Worth having, not
 * needed: on failure the backlog is put off job by job.
 */
async function spaceBacklogOnce(
  engine: DeliveryEngine,
  key: string,
  ruleId: string,
  rate: number | (() => number),
  message: string,
): Promise<void> {
  const from = engine.limiter.rateSpacingFrom(key)
  if (!from) return
  const perSecond = typeof rate === 'number' ? rate : rate()
  await spaceRuleBacklog(engine.db, ruleId, { from, perSecond }).then(
    (moved) => {
      engine.limiter.noteSpaced(key, from, moved, perSecond)
      if (moved > 0)
        engine.log.info({ rule: ruleId, moved, perSecond: Math.round(perSecond) }, message)
    },
    (err: unknown) => engine.log.warn({ err, rule: ruleId }, 'spacing a backlog failed'),
  )
}

/** A delay between `ms` and twice that, so put-off work does not all come back at once. */
export const jitter = (ms: number) => ms + Math.floor(Math.random() * ms)
