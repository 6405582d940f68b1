import type pg from 'pg'
import type { ApiKeyCache } from '../api-keys/api-key-cache.js'
import type { Config } from '../config.js'
import type { Db } from '../db/database.js'
import type { InboundRuntime } from '../inbound/runtime.js'
import type { Metrics } from '../metrics.js'
import type { DeliveryEngine } from '../outbound/send/engine.js'
import type { SecretBox } from '../security/secret-box.js'

/** What route plugins are given: no globals, no container. */
export interface RouteDeps {
  config: Config
  db: Db
  /**
   * History reads only (the read-only GET routes over deliveries, attempts,
   * events, inbound calls and mass-post reports): the read replica's pool when
   * DATABASE_READ_URL is set, else `db`. Never written through.
   */
  readDb: Db
  pool: pg.Pool
  box: SecretBox
  engine: DeliveryEngine
  /** The process's metrics; increment, never create (one registry per app). */
  metrics: Metrics
  /** The public endpoint's state; handler routes clear its cache on changes. */
  inbound: InboundRuntime
  /** Which workspace each API key opens; the operator routes clear it on revocation. */
  apiKeyCache: ApiKeyCache
}
