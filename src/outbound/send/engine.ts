import type { FastifyBaseLogger } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../../config.js'
import type { Db } from '../../db/database.js'
import type { RuleRow } from '../../db/tables/rules.js'
import { LruCache } from '../../lru-cache.js'
import type { Metrics } from '../../metrics.js'
import { createHttpSender, type Sender } from '../../net/http-sender.js'
import type { RuleAuthInput } from '../../schemas/rule-parts.js'
import type { SecretBox } from '../../security/secret-box.js'
import { renderBudgetMs, setRenderBudgetMs } from '../../templates/render-budget.js'
import { RENDER_THREADS } from '../../templates/render-pool.js'
import { perRuleCap } from '../caps.js'
import { ruleCredentials } from '../rules/rule-service.js'
import { type AttemptRounds, createAttemptRounds } from './attempt-rounds.js'
import { FairnessLimiter } from './fairness.js'
import { RenderShares } from './render-shares.js'

/** Rule versions whose opened credentials a process keeps. */
const CREDENTIALS_CACHED = 1000

/**
 * What sending needs, built once per process. Its own module, below
 * deliver.ts, put-off.ts and record-outcome.ts, so they share it without
 * importing each other.
 */
export interface DeliveryEngine {
  db: Db
  box: SecretBox
  /** The attempt's reads and writes, shared in rounds with other attempts in flight. */
  rounds: AttemptRounds
  sender: Sender
  limiter: FairnessLimiter
  /** Each workspace's share of the render threads, for its deliveries' costly templates. */
  renders: RenderShares
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>
  responseBodyLimit: number
  ruleAutoDisableHours: number
  /** Counts attempts and finished deliveries; absent, nothing is counted. */
  metrics?: Metrics
  /**
   * A rule's credentials, opened once per rule version in this process: the
   * version changes with the request or the auth (migrations/0019), so a
   * cached entry is never stale, whichever process changed the rule.
   */
  credentialsOf: (rule: RuleRow) => RuleAuthInput
  /** Logs a warning the first time `key` is seen in this process (and not again). */
  warnOnce: (key: string, fields: Record<string, unknown>, message: string) => void
}

/** The sending side's parts, built once per process from the config. */
export function createDeliveryEngine(options: {
  db: Db
  box: SecretBox
  config: Config
  log: Pick<FastifyBaseLogger, 'debug' | 'info' | 'warn' | 'error'>
  metrics?: Metrics
  /**
   * Caps and rate limits shared with every worker through the database (a
   * worker process's engine); the API's inline sends count in-process only.
   */
  sharedLimits?: boolean
}): DeliveryEngine {
  const { config } = options
  // Bounded: a process that has warned about many keys forgets the oldest.
  const warned = new Set<string>()
  // Every render in the process (deliveries, previews, tests, handlers' answers) draws on this budget.
  setRenderBudgetMs(config.templateRenderBudgetMs)
  const credentials = new LruCache<string, RuleAuthInput>(CREDENTIALS_CACHED)
  return {
    db: options.db,
    box: options.box,
    log: options.log,
    rounds: createAttemptRounds(options.db, options.box),
    credentialsOf(rule) {
      // A rule stored before versions (none yet) is opened each time.
      if (rule.version_id === null) return ruleCredentials(options.box, rule)
      const key = `${rule.id}\n${rule.version_id}`
      let opened = credentials.get(key)
      if (!opened) {
        opened = ruleCredentials(options.box, rule)
        credentials.set(key, opened)
      }
      return opened
    },
    sender: createHttpSender({
      allowList: config.outboundAllowList,
      responseBodyLimit: config.responseBodyLimitBytes,
      proxyUrl: config.outboundProxyUrl,
    }),
    // A fifth of the workers per rule, a third per destination host (by
    // default), half per workspace: one stuck receiver, however many rules
    // send to it, or one busy tenant can never take every slot.
    limiter: new FairnessLimiter({
      perRule: perRuleCap(config.workerConcurrency),
      perHost: config.workerConcurrencyPerHost,
      perWorkspace: Math.max(1, Math.floor(config.workerConcurrency / 2)),
      shared: options.sharedLimits ? { db: options.db, log: options.log } : undefined,
    }),
    // A render lasts at most about twice its budget (see render-pool.ts).
    renders: new RenderShares(RENDER_THREADS + 1, () => 2 * renderBudgetMs()),
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
