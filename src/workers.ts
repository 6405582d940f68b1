import type pg from 'pg'
import type { Config } from './config.js'
import type { Db } from './db/database.js'
import { DELIVERY_JOB } from './outbound/deliveries/schedule.js'
import { massPostDispatchHandler } from './outbound/mass-posts/dispatch-job.js'
import { MASS_POST_JOB } from './outbound/mass-posts/mass-post-service.js'
import { deliveryJobHandler } from './outbound/send/deliver.js'
import { createDeliveryEngine } from './outbound/send/engine.js'
import { createWorker } from './queue/index.js'
import type { QueueLogger } from './queue/types.js'
import type { SecretBox } from './security/secret-box.js'

/** The background side of the service (ROLE=worker or all): every job kind and its handler. */
export function createWorkers(options: {
  config: Config
  db: Db
  pool: pg.Pool
  connectionString: string
  box: SecretBox
  log: QueueLogger & { child?: unknown }
}) {
  const { config } = options
  const engine = createDeliveryEngine({
    db: options.db,
    box: options.box,
    config,
    log: options.log,
  })
  const worker = createWorker({
    pool: options.pool,
    connectionString: options.connectionString,
    concurrency: config.workerConcurrency,
    batchSize: config.workerConcurrency * 2,
    handlers: {
      [DELIVERY_JOB]: deliveryJobHandler(engine),
      [MASS_POST_JOB]: massPostDispatchHandler(options.db),
    },
    logger: options.log,
  })
  return {
    worker,
    start: () => worker.start(),
    async stop(deadlineMs: number) {
      await worker.stop({ deadlineMs })
      await engine.sender.close()
    },
  }
}
