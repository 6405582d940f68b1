/**
 * `npm run bench:retention`: the retention purge of a few million history
 * rows, deleting them row by row (the tables as they were before migration
 * 0030) against dropping day partitions (after it).
 *
 * Two databases on one PostgreSQL are filled alike at migration 0029: 14
 * days of history, 37 to 24 days old, RETENTION_ROWS_PER_DAY (default 50,000)
 * each of events, deliveries (succeeded, one attempt each) and inbound calls,
 * across 10 workspaces of 30 days' retention. One is then migrated (0030 on:
 * the copy into partitions is timed too); the other keeps its plain tables.
 * Both run the same purge (src/retention/purge-history.ts `purgeHistory`),
 * which deletes in batches where there are no day partitions and drops them
 * where there are: 7 days of the 14 are past the retention. Printed, each:
 * wall time and the cluster's CPU for the purge, WAL written, dead tuples
 * left in the history tables, and the VACUUM that then has to clean them.
 * Writes bench/results/retention.json (not with --quick: 10,000 a day).
 */
import { readdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { connectDatabase } from '../src/db/database.js'
import { migrate, migrationsDir } from '../src/db/migrate.js'
import { purgeHistory } from '../src/retention/purge-history.js'
import { startBenchPostgres } from './lib/postgres.js'
import { round } from './lib/stats.js'

const quick = process.argv.includes('--quick')
const PER_DAY = Number(process.env.RETENTION_ROWS_PER_DAY ?? (quick ? 10_000 : 50_000))
const DAYS = 14
const OLDEST = 37 // days ago
const WORKSPACES = 10
const DAY_MS = 86_400_000
const FIRST_PARTITIONED = '0030_partitioned_history.sql'
const HISTORY = ['events', 'deliveries', 'delivery_attempts', 'inbound_calls']

const today = Math.floor(Date.now() / DAY_MS) * DAY_MS
// A minute into today: the horizon falls a minute into day -30, so both purges
// have (almost) the same rows to remove: days -37 to -31.
const now = new Date(today + 60_000)

async function main() {
  const pg = await startBenchPostgres()
  const results: Record<string, unknown> = {}
  try {
    const before = await pendingBefore()
    const urls: Record<string, string> = {}
    for (const name of ['delete', 'drop']) {
      urls[name] = await pg.createDatabase(`bench_retention_${name}`)
      const database = connectDatabase(urls[name]!, { max: 4 })
      await migrate(database.pool, before)
      const at = performance.now()
      await fill(database.pool)
      process.stdout.write(
        `${name}: filled ${rowsTotal().toLocaleString('en')} rows in ${round((performance.now() - at) / 1000, 1)} s\n`,
      )
      if (name === 'drop') {
        const start = performance.now()
        const cpu = pg.cpuSeconds()
        await migrate(database.pool)
        results.migration = {
          rows_copied: rowsTotal(),
          seconds: round((performance.now() - start) / 1000, 1),
          postgres_cpu_seconds: round(pg.cpuSeconds() - cpu, 1),
        }
        process.stdout.write(
          `drop: migrated into partitions: ${JSON.stringify(results.migration)}\n`,
        )
      }
      await database.close()
      await pg.settle(`bench_retention_${name}`)
    }

    for (const name of ['delete', 'drop']) {
      const db = `bench_retention_${name}`
      const database = connectDatabase(urls[name]!, { max: 4 })
      const wal = await walLsn(pg, db)
      const cpu = pg.cpuSeconds()
      const at = performance.now()
      const { rows, partitions } = await purgeHistory(database.db, { now })
      const seconds = (performance.now() - at) / 1000
      const purgeCpu = pg.cpuSeconds() - cpu
      // Backends report their statistics as they exit.
      await database.close()
      await new Promise((resolve) => setTimeout(resolve, 1500))
      const walBytes = await walSince(pg, db, wal)
      const dead = await deadTuples(pg, db)
      const vacuumAt = performance.now()
      const vacuumCpu = pg.cpuSeconds()
      await pg.query(db, `vacuum ${HISTORY.join(', ')}`)
      const figures = {
        rows_deleted: rows.deliveries + rows.events + rows.calls,
        partitions_dropped: partitions.dropped.length,
        purge_seconds: round(seconds, 2),
        purge_postgres_cpu_seconds: round(purgeCpu, 2),
        wal_mb: round(walBytes / 1e6, 1),
        dead_tuples_after: dead,
        vacuum_seconds: round((performance.now() - vacuumAt) / 1000, 2),
        vacuum_postgres_cpu_seconds: round(pg.cpuSeconds() - vacuumCpu, 2),
        rows_left: await rowsLeft(pg, db),
      }
      results[name] = figures
      process.stdout.write(`${name}: ${JSON.stringify(figures)}\n`)
    }
    if (!quick) {
      const file = fileURLToPath(new URL('./results/retention.json', import.meta.url))
      await writeFile(
        file,
        `${JSON.stringify(
          {
            date: new Date().toISOString(),
            cores: cpus().length,
            load_at_start: loadavg()[0],
            rows_per_day_per_table: PER_DAY,
            days: DAYS,
            days_expired: 7,
            ...results,
          },
          null,
          2,
        )}\n`,
      )
      process.stdout.write(`wrote ${file}\n`)
    }
  } finally {
    await pg.stop()
  }
}

const rowsTotal = () => PER_DAY * DAYS * HISTORY.length

/** A folder of the migrations before partitioning (a copy: migrate() reads a folder). */
async function pendingBefore(): Promise<string> {
  const { mkdtemp, copyFile } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const path = await import('node:path')
  const dir = await mkdtemp(path.join(tmpdir(), 'hookline-migrations-'))
  for (const file of (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql'))) {
    if (file < FIRST_PARTITIONED)
      await copyFile(path.join(migrationsDir, file), path.join(dir, file))
  }
  return dir
}

/** History as the service writes it, with ids made from each row's time. */
async function fill(pool: import('pg').Pool) {
  await pool.query(`
    create function pg_temp.bench_id(prefix text, at timestamptz) returns text
    language plpgsql as $$
    declare
      ms bigint := floor(extract(epoch from at) * 1000);
      digits text := '';
    begin
      for i in 1..10 loop
        digits := substr('0123456789abcdefghjkmnpqrstvwxyz', (ms % 32)::int + 1, 1) || digits;
        ms := ms / 32;
      end loop;
      return prefix || '_' || digits || substr(md5(random()::text), 1, 16);
    end
    $$`)
  for (let w = 0; w < WORKSPACES; w++) {
    await pool.query(`insert into workspaces (id, name, retention_days) values ($1, $1, 30)`, [
      `ws_${w}`,
    ])
    await pool.query(
      `insert into handlers (id, workspace_id, title, token_hash, token_sealed, methods, body_format,
         body_limit_bytes, verification_public, response)
       values ($1, $2, 'Form', sha256(convert_to($1, 'UTF8')), '\\x00', '{POST}', 'json', 1048576,
         '{"type":"none"}', '{}')`,
      [`hnd_${w}`, `ws_${w}`],
    )
  }
  const record = JSON.stringify({
    entity_type: 'lead',
    entity_id: 'L-1001',
    fields: {
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      company: 'Analytical Engines Ltd',
      stage: 'qualified',
      owner: 'grace',
    },
  })
  const request = JSON.stringify({
    method: 'POST',
    url: 'https://hooks.example.com/crm/leads',
    headers: {
      'content-type': 'application/json',
      'webhook-id': 'dlv_x',
      'webhook-timestamp': '1733356800',
    },
    body: record,
    body_truncated: false,
  })
  for (let d = 0; d < DAYS; d++) {
    const start = new Date(today - (OLDEST - d) * DAY_MS)
    const series = `
      from (select i, $1::timestamptz + (i * interval '86399 seconds' / $2) as at
            from generate_series(0, $2 - 1) i) s`
    const params = [start, PER_DAY]
    await pool.query(
      `insert into events (id, workspace_id, type, entity_type, entity_id, fields, created_at)
       select pg_temp.bench_id('evt', at), 'ws_' || (i % ${WORKSPACES}), 'lead.updated', 'lead',
         'L-' || i, $3::jsonb -> 'fields', at ${series}`,
      [...params, record],
    )
    await pool.query(
      `insert into deliveries (id, workspace_id, rule_id, kind, event_type, entity_type, entity_id,
         status, record, attempts, max_attempts, response_status, created_at, updated_at, finished_at)
       select pg_temp.bench_id('dlv', at), 'ws_' || (i % ${WORKSPACES}), 'rul_1', 'rule',
         'lead.updated', 'lead', 'L-' || i, 'succeeded', $3::jsonb, 1, 5, 200, at, at, at ${series}`,
      [...params, record],
    )
    await pool.query(
      `insert into delivery_attempts (delivery_id, workspace_id, attempt, request, response_status,
         response_headers, response_body, duration_ms, created_at)
       select id, workspace_id, 1, $2::jsonb, 200, '{"content-type":"application/json"}',
         '{"ok":true}', 42, created_at
       from deliveries where created_at >= $1 and created_at < $1 + interval '1 day'`,
      [start, request],
    )
    await pool.query(
      `insert into inbound_calls (id, workspace_id, handler_id, method, headers, query, content_type,
         body, body_size, source_address, received_at, outcome, params, response_status, finished_at)
       select pg_temp.bench_id('cal', at), 'ws_' || (i % ${WORKSPACES}), 'hnd_' || (i % ${WORKSPACES}),
         'POST', '{"content-type":"application/json","user-agent":"bench"}', '{}',
         'application/json', convert_to($3::text, 'UTF8'), length($3::text), '203.0.113.7', at,
         'accepted', $3::text::jsonb -> 'fields', 200, at ${series}`,
      [...params, record],
    )
  }
}

async function walLsn(pg: Awaited<ReturnType<typeof startBenchPostgres>>, db: string) {
  return (await pg.query(db, 'select pg_current_wal_insert_lsn()::text as lsn')).rows[0]
    .lsn as string
}

async function walSince(
  pg: Awaited<ReturnType<typeof startBenchPostgres>>,
  db: string,
  lsn: string,
): Promise<number> {
  const { rows } = await pg.query(
    db,
    'select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::float8 as bytes',
    [lsn],
  )
  return rows[0].bytes
}

/** Dead tuples in the history tables (their partitions, once partitioned). */
async function deadTuples(pg: Awaited<ReturnType<typeof startBenchPostgres>>, db: string) {
  const { rows } = await pg.query(
    db,
    `select coalesce(sum(n_dead_tup), 0)::bigint as dead from pg_stat_user_tables
     where relname = any($1::text[]) or relname ~ ('^(' || array_to_string($1::text[], '|') || ')_')`,
    [HISTORY],
  )
  return Number(rows[0].dead)
}

async function rowsLeft(pg: Awaited<ReturnType<typeof startBenchPostgres>>, db: string) {
  const out: Record<string, number> = {}
  for (const table of HISTORY) {
    out[table] = Number((await pg.query(db, `select count(*) from ${table}`)).rows[0].count)
  }
  return out
}

await main()
