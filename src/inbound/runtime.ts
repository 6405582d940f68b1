import type { Config } from '../config.js'
import type { Db } from '../db/database.js'
import type { Sender } from '../net/http-sender.js'
import { deliveriesPerJob } from '../outbound/deliveries/schedule.js'
import type { SecretBox } from '../security/secret-box.js'
import { CallWriter, type WriterLog } from './call-writer.js'
import { HandlerCache } from './handler-cache.js'
import { RateLimiter } from './rate-limiter.js'
import type { ReceiveDeps } from './receive.js'

/**
 * The public endpoint's per-process state: the handler cache, the rate
 * limiters and the call log's batched writers. Built once per app; the
 * management routes clear the cache when they change a handler.
 */
export interface InboundRuntime {
  cache: HandlerCache
  tokenLimiter: RateLimiter
  addressLimiter: RateLimiter
  /** Lookups of tokens that turned out unknown, per source address. */
  missLimiter: RateLimiter
  receive: ReceiveDeps
  close(): Promise<void>
}

const SWEEP_EVERY_MS = 30_000

export function createInboundRuntime(options: {
  db: Db
  box: SecretBox
  config: Config
  sender: Sender
  log: WriterLog
}): InboundRuntime {
  const { db, box, config } = options
  const writer = new CallWriter(db, options.log, deliveriesPerJob(config.workerConcurrency))
  const tokenLimiter = new RateLimiter(config.inboundRatePerToken)
  const addressLimiter = new RateLimiter(config.inboundRatePerAddress)
  const missLimiter = new RateLimiter(config.inboundMissesPerAddress)
  const sweep = setInterval(() => {
    tokenLimiter.sweep()
    addressLimiter.sweep()
    missLimiter.sweep()
  }, SWEEP_EVERY_MS)
  sweep.unref()
  return {
    cache: new HandlerCache(db, box, config.inboundHandlerCacheMs),
    tokenLimiter,
    addressLimiter,
    missLimiter,
    receive: {
      writer,
      lookup: { db, box, sender: options.sender, timeoutMs: config.inboundLookupTimeoutMs },
      storedBodyBytes: config.inboundStoredBodyBytes,
      limits: {
        maxDepth: config.inboundMaxDepth,
        maxValues: config.inboundMaxValues,
        maxParameters: config.inboundMaxParameters,
      },
    },
    async close() {
      clearInterval(sweep)
      await writer.close()
    },
  }
}
