import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'

/** The repository's migrations folder; src/db and dist/db sit at the same depth. */
export const migrationsDir = fileURLToPath(new URL('../../migrations/', import.meta.url))

// Any fixed number works; it only has to be the same in every process.
const MIGRATION_LOCK_ID = 7_413_092_001

export interface MigrationResult {
  applied: string[]
}

/**
 * Applies every `NNNN_name.sql` file not yet recorded in `hookline_migrations`,
 * in name order, each in its own transaction. Each transaction first takes a
 * transaction-scoped advisory lock and looks again whether its file is still
 * pending, so two processes starting at once take turns and the second finds
 * nothing left to do. Transaction-scoped, not a session lock held across
 * them: behind a transaction pooler the statements of one client may reach
 * different server connections, and a session lock would stay with whichever
 * one took it.
 */
export async function migrate(pool: pg.Pool, dir = migrationsDir): Promise<MigrationResult> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort()
  const pending = new Set(await pendingMigrations(pool, dir))
  const client = await pool.connect()
  const applied: string[] = []
  try {
    for (const file of files) {
      if (!pending.has(file)) continue
      const sql = await readFile(`${dir}/${file}`, 'utf8')
      try {
        await client.query('begin')
        await client.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID])
        await client.query(`
          create table if not exists hookline_migrations (
            name text primary key,
            applied_at timestamptz not null default now()
          )`)
        const { rowCount } = await client.query(
          'select 1 from hookline_migrations where name = $1',
          [file],
        )
        if (rowCount) {
          await client.query('commit')
          continue
        }
        await client.query(sql)
        await client.query('insert into hookline_migrations (name) values ($1)', [file])
        await client.query('commit')
      } catch (err) {
        await client.query('rollback').catch(() => {})
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err })
      }
      applied.push(file)
    }
  } finally {
    client.release()
  }
  return { applied }
}

/** Names of migration files not yet applied; /readyz reports not ready while any remain. */
export async function pendingMigrations(pool: pg.Pool, dir = migrationsDir): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
  // to_regclass: a database never migrated has no table yet, and that means "all pending".
  const { rows } = await pool
    .query<{ name: string }>(
      `select name from hookline_migrations
      where to_regclass('hookline_migrations') is not null and name = any($1::text[])`,
      [files],
    )
    .catch((err: { code?: string }) => {
      if (err.code === '42P01') return { rows: [] }
      throw err
    })
  const done = new Set(rows.map((r) => r.name))
  return files.filter((f) => !done.has(f)).sort()
}
