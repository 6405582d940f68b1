/**
 * The most sends one rule may have in flight per worker: a fifth of its
 * `WORKER_CONCURRENCY`, so one stuck receiver never takes every slot. The
 * sender caps a rule at it (send/engine.ts); intake puts up to that many of a
 * rule's deliveries in one job (deliveries/schedule.ts), since a job's
 * deliveries beyond it could only wait for a slot.
 */
export const perRuleCap = (workerConcurrency: number) =>
  Math.max(1, Math.floor(workerConcurrency / 5))
