import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js'

/**
 * One PostgreSQL for the whole benchmark, in a temporary folder, with the
 * same settings for every peer. synchronous_commit=off is the usual setting
 * for a job queue (a crash may lose the last few ms of commits, never
 * consistency); fsync stays on. A large max_wal_size keeps checkpoints out of
 * the timed runs (we checkpoint between them instead).
 */
export const postgresSettings = {
  shared_buffers: '512MB',
  max_connections: 200,
  synchronous_commit: 'off',
  max_wal_size: '8GB',
  checkpoint_timeout: '30min',
}

export interface BenchPostgres {
  url(database: string): string
  query(database: string, sql: string, values?: unknown[]): Promise<pg.QueryResult>
  createDatabase(name: string): Promise<string>
  /** VACUUM ANALYZE the database and CHECKPOINT: every timed run starts from a settled state. */
  settle(database: string): Promise<void>
  /**
   * CPU seconds the whole cluster has used so far: every server process,
   * plus the backends that already exited (their time is added to the
   * postmaster's). Noisy neighbours on a shared host change wall times a lot
   * and CPU per job very little, so the benchmark prints both.
   */
  cpuSeconds(): number
  /** The postmaster's pid: the root of the cluster's process tree. */
  pid(): number
  stop(): Promise<void>
}

/** `extra` settings beside the shared ones, e.g. to load pg_stat_statements when profiling. */
export async function startBenchPostgres(
  extra: Record<string, string> = {},
): Promise<BenchPostgres> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-bench-'))
  const server = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    settings: { ...postgresSettings, ...extra },
  })
  const url = (database: string) => server.connectionString(database)
  async function query(database: string, sql: string, values?: unknown[]) {
    const client = new pg.Client({ connectionString: url(database) })
    await client.connect()
    try {
      return await client.query(sql, values)
    } finally {
      await client.end()
    }
  }
  return {
    url,
    query,
    async createDatabase(name) {
      await query('postgres', `drop database if exists ${name} with (force)`)
      await query('postgres', `create database ${name}`)
      return url(name)
    },
    async settle(database) {
      await query(database, 'vacuum analyze')
      await query(database, 'checkpoint')
    },
    cpuSeconds: () => clusterCpuSeconds(dataDir),
    pid: () =>
      Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]),
    async stop() {
      await server.stop()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/**
 * CPU seconds an embedded cluster (started with this `dataDir`) has used so
 * far: every server process, plus the backends that already exited (their
 * time is added to the postmaster's).
 */
export function clusterCpuSeconds(dataDir: string): number {
  const postmaster = readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split(
    '\n',
  )[0]!
  const own = processTicks(postmaster)
  let ticks = own.self + own.children
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    const stat = processTicks(pid)
    if (stat.parent === postmaster) ticks += stat.self
  }
  return ticks / CLOCK_TICKS
}

/**
 * CPU seconds the whole machine has been busy so far, every core and process
 * (all of /proc/stat's time but idle and iowait). Over a timed run on an
 * otherwise quiet machine, that is what the run cost, whichever processes did
 * the work.
 */
export function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  const [user, nice, system, , , irq, softirq, steal] = fields as number[]
  return (
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) /
    CLOCK_TICKS
  )
}

/** CPU seconds one process has used so far: utime + stime of /proc/<pid>/stat. */
export function processCpuSeconds(pid: number): number {
  return processTicks(String(pid)).self / CLOCK_TICKS
}

// USER_HZ: 100 on every Linux this runs on.
const CLOCK_TICKS = 100

function processTicks(pid: string): { parent: string; self: number; children: number } {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which may itself contain spaces and parentheses.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return {
      parent: f[1]!,
      self: Number(f[11]) + Number(f[12]),
      children: Number(f[13]) + Number(f[14]),
    }
  } catch {
    return { parent: '', self: 0, children: 0 }
  }
}

export interface Timed {
  seconds: number
  nodeCpu: number
  pgCpu: number
  conditions?: string
}

/** Runs a task and adds the cluster's CPU time over it (a little more than its timed part). */
export async function timed(
  pg: BenchPostgres,
  task: () => Promise<{ seconds?: number; nodeCpuSeconds?: number; conditions?: string }>,
): Promise<Timed> {
  const before = pg.cpuSeconds()
  const result = await task()
  return {
    seconds: result.seconds ?? Number.NaN,
    nodeCpu: result.nodeCpuSeconds ?? 0,
    pgCpu: pg.cpuSeconds() - before,
    conditions: result.conditions,
  }
}

/**
 * Bytes (heap, TOAST, indexes) of the tables that keep history, every
 * partition of a partitioned one included (a partitioned table's own size is
 * 0). The queue's table is left out: it is empty once a run has drained.
 */
export const HISTORY_BYTES_SQL = `
  select coalesce(sum(pg_total_relation_size(t.relid)), 0)::float8 as bytes
    from unnest(array['events', 'deliveries', 'delivery_attempts', 'delivery_batch_records',
                      'event_idempotency_keys']) as name
    cross join lateral pg_partition_tree(to_regclass(name)) t`
