import type pg from 'pg'
import type { Config } from './config.js'
import type { Db } from './db/database.js'
import type { Metrics } from './metrics.js'
import {
  RECONCILE_JOB,
  reconcileJobHandler,
  scheduleReconcile,
} from './outbound/deliveries/reconcile-job.js'
import { DELIVERY_JOB } from './outbound/deliveries/schedule.js'
import { massPostDispatchHandler } from './outbound/mass-posts/dispatch-job.js'
import { MASS_POST_JOB } from './outbound/mass-posts/mass-post-service.js'
import { deliveryJobHandler } from './outbound/send/deliver.js'
import { createDeliveryEngine } from './outbound/send/engine.js'
import { idleDeliveryClaim } from './outbound/send/idle-claim.js'
import { createWorker } from './queue/index.js'
import type { QueueLogger } from './queue/types.js'
import {
  PARTITIONS_JOB,
  partitionJobHandler,
  schedulePartitions,
} from './retention/partition-job.js'
import { RETENTION_JOB, retentionJobHandler, scheduleRetention } from './retention/retention-job.js'
import type { SecretBox } from './security/secret-box.js'

/** Every job kind the workers run; their queue series read 0 before the first job. */
export const JOB_KINDS = [
  DELIVERY_JOB,
  MASS_POST_JOB,
  RETENTION_JOB,
  RECONCILE_JOB,
  PARTITIONS_JOB,
] as const

/** The background side of the service (ROLE=worker or all): every job kind and its handler. */
export function createWorkers(options: {
  config: Config
  db: Db
  pool: pg.Pool
  connectionString: string
  box: SecretBox
  log: QueueLogger & { child?: unknown }
  /** The process's metrics (server.ts shares them with the app); omitted, nothing is counted. */
  metrics?: Metrics
}) {
  const { config } = options
  const engine = createDeliveryEngine({
    db: options.db,
    box: options.box,
    config,
    log: options.log,
    metrics: options.metrics,
    sharedLimits: true,
  })
  const worker = createWorker({
    pool: options.pool,
    connectionString: options.connectionString,
    concurrency: config.workerConcurrency,
    batchSize: config.workerConcurrency * 2,
    leaseMs: config.queueLeaseMs,
    handlers: {
      [DELIVERY_JOB]: deliveryJobHandler(engine),
      [MASS_POST_JOB]: massPostDispatchHandler(options.db),
      [RETENTION_JOB]: retentionJobHandler(options.db, options.log),
      [RECONCILE_JOB]: reconcileJobHandler(engine),
      [PARTITIONS_JOB]: partitionJobHandler(options.db, options.log),
    },
    logger: options.log,
    // An idle worker reads a notification's deliveries and their context in the claim.
    idleClaim: idleDeliveryClaim,
    // An idle worker offers itself: a lone event's write leases it the job
    // and the NOTIFY brings what the claim would have read (idle-workers.ts).
    acceptLeases: true,
  })
  return {
    worker,
    async start() {
      engine.limiter.start()
      await worker.start()
      // The recurring purge, reconcile and partition maker: queued once, then
      // each run queues the next.
      await scheduleRetention(options.db)
      await scheduleReconcile(options.db)
      await schedulePartitions(options.db)
    },
    async stop(deadlineMs: number) {
      await worker.stop({ deadlineMs })
      await engine.limiter.stop()
      await engine.sender.close()
    },
  }
}
