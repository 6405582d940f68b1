import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { runMarkedAsPrepared, runUnnamed } from './prepared.js'
import type { ApiKeysTable } from './tables/api-keys.js'
import type { DeliveriesTable } from './tables/deliveries.js'
import type { DeliveryAttemptsTable } from './tables/delivery-attempts.js'
import type { DeliveryBatchRecordsTable } from './tables/delivery-batch-records.js'
import type { EventTypesTable } from './tables/event-types.js'
import type { EventsTable } from './tables/events.js'
import type { FieldsTable } from './tables/fields.js'
import type { HandlersTable } from './tables/handlers.js'
import type { InboundCallsTable } from './tables/inbound-calls.js'
import type { InboundClaimsTable } from './tables/inbound-claims.js'
import type { MassPostItemsTable, MassPostsTable } from './tables/mass-posts.js'
import type { RuleReferencesTable } from './tables/rule-references.js'
import type { RuleVersionsTable } from './tables/rule-versions.js'
import type { RulesTable } from './tables/rules.js'
import type { SigningSecretsTable } from './tables/signing-secrets.js'
import type { WorkspacesTable } from './tables/workspaces.js'
import { parseTimestamptz } from './timestamptz.js'

/** Every table Kysely may query. One file per table under ./tables. */
export interface Database {
  workspaces: WorkspacesTable
  api_keys: ApiKeysTable
  signing_secrets: SigningSecretsTable
  event_types: EventTypesTable
  fields: FieldsTable
  rules: RulesTable
  rule_references: RuleReferencesTable
  rule_versions: RuleVersionsTable
  events: EventsTable
  deliveries: DeliveriesTable
  delivery_attempts: DeliveryAttemptsTable
  delivery_batch_records: DeliveryBatchRecordsTable
  mass_posts: MassPostsTable
  mass_post_items: MassPostItemsTable
  jobs: import('./tables/jobs.js').JobsTable
  handlers: HandlersTable
  inbound_calls: InboundCallsTable
  inbound_claims: InboundClaimsTable
}

export type Db = Kysely<Database>

// int8 (bigint counts) as JS numbers: our counts stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10))
// timestamptz read without pg's regular expressions (same Dates; see timestamptz.ts).
const pgTimestamptz = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text')
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (value) =>
  parseTimestamptz(value, pgTimestamptz),
)

export interface DatabaseHandle {
  db: Db
  pool: pg.Pool
  close(): Promise<void>
}

/** Each Kysely instance `connectDatabase` made → the pool under it. */
const pools = new WeakMap<Db, pg.Pool>()

/**
 * The pool under `db` when `connectDatabase` made it (not a transaction's,
 * whose statements must go through its own connection): for a statement that
 * needs nothing of Kysely's but a connection (see precompiled.ts).
 */
export const poolOf = (db: Db): pg.Pool | undefined => pools.get(db)

/**
 * Opens a pool and a Kysely instance over it. The caller owns both and closes
 * them. `preparedStatements: false` (DATABASE_PREPARED_STATEMENTS) runs every
 * statement unnamed, for a transaction pooler in front of PostgreSQL.
 */
export function connectDatabase(
  connectionString: string,
  options: { max?: number; applicationName?: string; preparedStatements?: boolean } = {},
): DatabaseHandle {
  const named = options.preparedStatements ?? true
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'hookline',
    // A restarted or failed-over server leaves dead sockets; keep-alive notices sooner.
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
  })
  // An idle client's error (server restart) must not crash the process: the
  // pool discards that client and the next query opens a new one.
  pool.on('error', () => {})
  // A checked-out client has no pool listener: when its connection is cut
  // (pg_terminate_backend, failover) it emits 'error', which would crash the
  // process. Its query fails anyway, and the pool drops the dead client when
  // it comes back.
  pool.on('connect', (client) => {
    client.on('error', () => {})
    if (named) runMarkedAsPrepared(client)
    else runUnnamed(client)
  })
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  pools.set(db, pool)
  return {
    db,
    pool,
    // Kysely's destroy() ends the pool it was given.
    close: () => db.destroy(),
  }
}
