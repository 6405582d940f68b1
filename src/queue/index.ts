// The job queue: the engine under every delivery, retry, delay, forward and purge.
export { type BackoffOptions, defaultBackoff, retryDelayMs } from './backoff.js'
export { cancelJobs, cancelJobsByQueueKey, enqueue } from './enqueue.js'
export { PermanentJobError, PutOffJobError, RetryJobError } from './errors.js'
export { JOBS_CHANNEL } from './notification.js'
export {
  type KindQueueStats,
  type QueueStats,
  queueStats,
  queueStatsFromPool,
} from './queue-stats.js'
export type {
  Job,
  JobHandler,
  JobSpec,
  KindCounters,
  QueueLogger,
  StopOptions,
  Worker,
  WorkerOptions,
  WorkerStats,
} from './types.js'
export { createWorker } from './worker.js'
