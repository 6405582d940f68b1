import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { TEST_ENCRYPTION_KEY } from '../helpers/app.js'
import type { TestDatabase } from '../helpers/database.js'
import type { Workspace } from '../helpers/outbound.js'

/**
 * Real processes for the fault tests: the service itself (`src/server.ts`)
 * in a child process, killed, stopped and restarted by the test, over the
 * test's own database. Management calls go through the in-process app
 * (`app.inject`); every send goes from the child over a real socket.
 */

const root = fileURLToPath(new URL('../..', import.meta.url))

export interface ServiceProcess {
  readonly child: ChildProcess
  readonly pid: number
  /** Every stdout/stderr line so far (pino JSON), for diagnostics. */
  readonly lines: string[]
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly alive: boolean
  /** Resident set size of the process, in bytes (from /proc). */
  rss(): number
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>
}

/**
 * Runs `node --import tsx src/server.ts` (no tsx wrapper process in between,
 * so a SIGKILL reaches the service itself). ROLE defaults to `worker`.
 */
export function startService(
  t: Test,
  databaseUrl: string,
  env: Record<string, string> = {},
): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/server.ts')], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATABASE_URL: databaseUrl,
      ROLE: 'worker',
      OPERATOR_TOKEN: 'fault-operator-token-0123456789',
      OUTBOUND_ALLOW_LIST: '127.0.0.1/32',
      BOOTSTRAP_WORKSPACE: 'false',
      ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString('base64'),
      LOG_LEVEL: 'info',
      PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const watchers: { pattern: RegExp; resolve: (line: string) => void }[] = []
  const onData = (buffered: { rest: string }) => (chunk: Buffer) => {
    const text = buffered.rest + chunk.toString('utf8')
    const parts = text.split('\n')
    buffered.rest = parts.pop() ?? ''
    for (const line of parts) {
      lines.push(line)
      if (process.env.HOOKLINE_TEST_LOG) process.stderr.write(`[${child.pid}] ${line}\n`)
      for (const w of [...watchers]) {
        if (w.pattern.test(line)) {
          watchers.splice(watchers.indexOf(w), 1)
          w.resolve(line)
        }
      }
    }
  }
  child.stdout?.on('data', onData({ rest: '' }))
  child.stderr?.on('data', onData({ rest: '' }))
  let alive = true
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      alive = false
      resolve({ code, signal })
    }),
  )
  t.teardown(async () => {
    if (alive) child.kill('SIGKILL')
    await exited
  })
  return {
    child,
    pid: child.pid as number,
    lines,
    exited,
    get alive() {
      return alive
    },
    rss: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1]
      return Number(kb ?? 0) * 1024
    },
    waitForLine(pattern, timeoutMs = 30_000) {
      const seen = lines.find((line) => pattern.test(line))
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no log line matching ${pattern} in ${timeoutMs} ms`)),
          timeoutMs,
        )
        watchers.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer)
            resolve(line)
          },
        })
      })
    },
  }
}

/** Kills with SIGKILL and waits for the exit. */
export async function kill9(service: ServiceProcess) {
  service.child.kill('SIGKILL')
  return service.exited
}

/** Posts `count` `lead.created` events in batches of up to 1,000; answers every delivery id. */
export async function postLeads(
  app: FastifyInstance,
  ws: Workspace,
  count: number,
  prefix = 'L',
): Promise<string[]> {
  const ids: string[] = []
  for (let from = 0; from < count; from += 1000) {
    const events = Array.from({ length: Math.min(1000, count - from) }, (_, i) => {
      const id = `${prefix}-${from + i}`
      return {
        type: 'lead.created',
        record: { entity_type: 'lead', entity_id: id, fields: { lead: { id } } },
      }
    })
    const res = await app.inject({
      method: 'POST',
      url: '/v1/events/batch',
      headers: ws.auth,
      payload: { events },
    })
    if (res.statusCode !== 202) throw new Error(`post events: ${res.statusCode} ${res.body}`)
    for (const result of res.json<{ data: { deliveries: string[] }[] }>().data) {
      ids.push(...result.deliveries)
    }
  }
  return ids
}

export interface StatusCounts {
  queued: number
  delivering: number
  succeeded: number
  failed: number
  cancelled: number
  total: number
}

/** Deliveries by status, counted in the database (optionally for one workspace). */
export async function deliveryCounts(
  database: TestDatabase,
  workspaceId?: string,
): Promise<StatusCounts> {
  const { rows } = await database.pool.query<{ status: keyof StatusCounts; n: number }>(
    `select status, count(*)::int as n from deliveries
    where kind = 'rule' and ($1::text is null or workspace_id = $1) group by status`,
    [workspaceId ?? null],
  )
  const counts: StatusCounts = {
    queued: 0,
    delivering: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    total: 0,
  }
  for (const row of rows) {
    counts[row.status] = row.n
    counts.total += row.n
  }
  return counts
}

/** Delivery ids the receiver saw, from the `webhook-id` header, with how often each came. */
export function webhookIds(received: { headers: Record<string, unknown> }[]): Map<string, number> {
  const seen = new Map<string, number>()
  for (const r of received) {
    const id = String(r.headers['webhook-id'])
    seen.set(id, (seen.get(id) ?? 0) + 1)
  }
  return seen
}

/** Live (not dead) delivery jobs and dead ones, counted in the database. */
export async function jobCounts(database: TestDatabase) {
  // Other kinds (the recurring retention purge) live on by design.
  const { rows } = await database.pool.query<{ live: number; dead: number; leased: number }>(
    `select count(*) filter (where dead_at is null)::int as live,
      count(*) filter (where dead_at is not null)::int as dead,
      count(*) filter (where locked_until > now())::int as leased
    from jobs where kind = 'delivery.send'`,
  )
  return rows[0]!
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Quantiles of a list of numbers (figures for RELIABILITY.md, never asserted). */
export function quantiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) }
}
