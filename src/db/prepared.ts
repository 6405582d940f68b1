import { sql } from 'kysely'
import type pg from 'pg'

const MARK = '/*prepared '

/**
 * Marks a statement to run as a named prepared statement: PostgreSQL parses
 * and plans it once per connection instead of on every execution. For the
 * few statements whose text never changes and which run for every call or
 * delivery: planning a statement of many CTEs costs more than running it
 * for a small batch. Put it first in the statement: sql`${prepared('x')} ...`.
 * Each name must always go with the same text.
 */
export const prepared = (name: string) => sql.raw(`${MARK}${name}*/`)

/** The name a statement's text is marked with (see `prepared`), if any. */
export const preparedName = (text: string): string | undefined =>
  text.startsWith(MARK) ? text.slice(MARK.length, text.indexOf('*/')) : undefined

/**
 * Makes a pooled client run marked statements as named ones. Kysely passes
 * a statement's text and values to `client.query`; this is the one place
 * that can add a name to them.
 */
export function runMarkedAsPrepared(client: pg.PoolClient): void {
  const query = client.query as (...args: unknown[]) => unknown
  client.query = function (this: pg.PoolClient, ...args: unknown[]) {
    const [text, values] = args
    const name = typeof text === 'string' && args.length <= 2 ? preparedName(text) : undefined
    if (name !== undefined) {
      return query.call(this, { name, text, values })
    }
    return query.apply(this, args)
  } as typeof client.query
}

/**
 * Makes a pooled client run every statement unnamed, the marked ones and
 * those given by name (`{ name, text, values }`, the queue's) alike. Behind a
 * transaction pooler (PgBouncer in transaction mode before 1.21, Supavisor,
 * RDS Proxy) consecutive statements of one client may reach different server
 * connections, and a statement prepared on one is unknown on the next. An
 * unnamed statement is parsed, bound and run in one go, so it never is.
 */
export function runUnnamed(client: pg.PoolClient): void {
  const query = client.query as (...args: unknown[]) => unknown
  client.query = function (this: pg.PoolClient, ...args: unknown[]) {
    const [config] = args
    if (isNamedConfig(config)) {
      const { name: _name, ...unnamed } = config
      return query.call(this, unnamed, ...args.slice(1))
    }
    return query.apply(this, args)
  } as typeof client.query
}

function isNamedConfig(config: unknown): config is { name: string; text: string } {
  return (
    typeof config === 'object' &&
    config !== null &&
    typeof (config as { name?: unknown }).name === 'string' &&
    // A Submittable (a cursor, a stream) carries its own state; leave it whole.
    typeof (config as { submit?: unknown }).submit !== 'function'
  )
}
