import type { DeliveryRow } from '../../db/tables/deliveries.js'
import { postponeBacklog } from '../deliveries/postpone-backlog.js'
import { deferDelivery } from '../deliveries/schedule.js'
import type { DeliveryEngine } from './deliver.js'

/**
 * A job's send found its rule or workspace at its cap: the delivery goes back
 * to queued with a new job for later (it can still be cancelled meanwhile).
 * When the cap's slots are held for long (`FairnessLimiter.putOff`), the
 * rest of the cap's backlog due within the delay is put off with it, in one
 * statement, so the queue reaches other rules' and workspaces' jobs instead
 * of taking this backlog job by job only to defer each. Answers the delay.
 */
export async function putOffAtCap(
  engine: DeliveryEngine,
  delivery: DeliveryRow,
  jobId: string,
  capKey: string,
  minMs: number,
): Promise<number> {
  const { delayMs, backlog } = engine.limiter.putOff(capKey, delivery.workspace_id, minMs)
  // A rule's jobs carry its id as queue_key; a notice's cap key names no jobs.
  const target =
    backlog && 'ruleKey' in backlog
      ? delivery.rule_id === backlog.ruleKey
        ? { ruleId: backlog.ruleKey }
        : null
      : backlog
  if (target) {
    // Worth having, not needed: on failure the backlog is deferred job by job as before.
    await postponeBacklog(engine.db, target, delayMs).then(
      (moved) => engine.log.info({ ...target, moved, delayMs }, 'backlog put off at its cap'),
      (err: unknown) => engine.log.warn({ err, ...target }, 'putting a backlog off failed'),
    )
  }
  await deferDelivery(engine.db, delivery, jobId, new Date(Date.now() + jitter(delayMs)))
  return delayMs
}

const jitter = (ms: number) => ms + Math.floor(Math.random() * ms)
