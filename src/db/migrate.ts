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
 * in name order, each in its own transaction. A session advisory lock makes two
 * processes starting at once take turns: the second finds nothing left to do.
 */
export async function migrate(pool: pg.Pool, dir = migrationsDir): Promise<MigrationResult> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort()
  const client = await pool.connect()
  const applied: string[] = []
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_ID])
    await client.query(`
      create table if not exists hookline_migrations (
        name text primary key,
        applied_at timestamptz not null default now()
      )`)
    const done = new Set(
      (await client.query<{ name: string }>('select name from hookline_migrations')).rows.map(
        (r) => r.name,
      ),
    )
    for (const file of files) {
      if (done.has(file)) continue
      const sql = await readFile(`${dir}/${file}`, 'utf8')
      try {
        await client.query('begin')
        await client.query(sql)
        await client.query('insert into hookline_migrations (name) values ($1)', [file])
        await client.query('commit')
      } catch (err) {
        await client.query('rollback')
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err })
      }
      applied.push(file)
    }
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {})
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
