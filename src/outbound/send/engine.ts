import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../../config.js'
import type { Db } from '../../db/database.js'
import type { Metrics } from '../../metrics.js'
import type { SecretBox } from '../../security/secret-box.js'
import { createAttemptRounds } from './attempt-rounds.js'
import type { DeliveryEngine } from './deliver.js'
import { FairnessLimiter } from './fairness.js'
import { createHttpSender } from './http-sender.js'

/** The sending side's parts, built once per process from the config. */
export function createDeliveryEngine(options: {
  db: Db
  box: SecretBox
  config: Config
  log: Pick<FastifyBaseLogger, 'debug' | 'info' | 'warn' | 'error'>
  metrics?: Metrics
}): DeliveryEngine {
  const { config } = options
  // Bounded: a process that has warned about many keys forgets the oldest.
  const warned = new Set<string>()
  return {
    db: options.db,
    box: options.box,
    log: options.log,
    rounds: createAttemptRounds(options.db, options.box),
    sender: createHttpSender({
      allowList: config.outboundAllowList,
      responseBodyLimit: config.responseBodyLimitBytes,
      proxyUrl: config.outboundProxyUrl,
    }),
    // A fifth of the workers per rule, a third per destination host (by
    // default), half per workspace: one stuck receiver, however many rules
    // send to it, or one busy tenant can never take every slot.
    limiter: new FairnessLimiter({
      perRule: Math.max(1, Math.floor(config.workerConcurrency / 5)),
      perHost: config.workerConcurrencyPerHost,
      perWorkspace: Math.max(1, Math.floor(config.workerConcurrency / 2)),
    }),
    responseBodyLimit: config.responseBodyLimitBytes,
    ruleAutoDisableHours: config.ruleAutoDisableHours,
    metrics: options.metrics,
    warnOnce(key, fields, message) {
      if (warned.has(key)) return
      if (warned.size >= 10_000) warned.delete(warned.values().next().value as string)
      warned.add(key)
      options.log.warn(fields, message)
    },
  }
}
