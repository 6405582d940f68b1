/**
 * `npm run bench:soak -- [--minutes 30] [--idle-seconds 120] [--calibrate-seconds 20]`
 *
 * The soak (fault 8 of the reliability issue): Hookline as deployed (one
 * `src/server.ts` process, ROLE=all, over a throw-away embedded PostgreSQL)
 * is first driven flat out to find its peak delivery rate, then fed events at
 * 70 % of that for the whole run. In the middle, a session opens a
 * transaction and sits idle in it (holding back vacuum's horizon) for
 * `--idle-seconds`. Every 5 s it records the delivery rate, the backlog, the
 * job table's rows, dead rows and size, and the service's RSS; at the end it
 * prints a summary and writes the samples to bench/results/soak-*.json.
 *
 * The default (1 minute, 20 s idle) is a smoke run; the run is
 * `--minutes 30 --idle-seconds 120`. Nothing here asserts: RELIABILITY.md
 * records what was run and what it showed.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js'
import { migrate } from '../src/db/migrate.js'
import { freePort } from './lib/deliver-ports.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const OPERATOR_TOKEN = 'soak-operator-token-0123456789'
const RULES = 5
const SAMPLE_MS = 5000
const TICK_MS = 200

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    'idle-seconds': { type: 'string' },
    'calibrate-seconds': { type: 'string', default: '20' },
    share: { type: 'string', default: '0.7' },
  },
})
const durationMs = Number(values.minutes) * 60_000
const idleMs = Number(values['idle-seconds'] ?? Math.min(120, durationMs / 3000)) * 1000
const calibrateMs = Number(values['calibrate-seconds']) * 1000
const share = Number(values.share)

interface Sample {
  at_s: number
  phase: 'before' | 'idle-in-transaction' | 'after' | 'drain'
  delivered_per_s: number
  backlog: number
  job_rows: number
  job_dead_rows: number
  job_table_kb: number
  rss_mb: number
}

async function main() {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-soak-'))
  const pgPort = await freePort()
  const embedded = await startEmbeddedPostgres({ dataDir, port: pgPort })
  const admin = new pg.Client({ connectionString: embedded.connectionString('postgres') })
  await admin.connect()
  await admin.query('create database soak')
  await admin.end()
  const url = embedded.connectionString('soak')
  const pool = new pg.Pool({ connectionString: url, max: 3 })
  await migrate(pool)

  // The receiver: answers 200 at once and counts.
  let delivered = 0
  const receiver = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      delivered++
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
    })
  })
  receiver.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`

  const port = await freePort()
  const service = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/server.ts')], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: url,
      ROLE: 'all',
      // A benchmark posts far past a workspace's /v1 quota on purpose.
      API_RATE_PER_MINUTE: '0',
      PORT: String(port),
      OPERATOR_TOKEN,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      OUTBOUND_ALLOW_LIST: '127.0.0.1/32',
      // The rules' one receiver stands for one each: no host cap (50 is
      // WORKER_CONCURRENCY's default), so figures compare with earlier runs.
      WORKER_CONCURRENCY_PER_HOST: '50',
      BOOTSTRAP_WORKSPACE: 'false',
      LOG_LEVEL: 'warn',
    },
  })
  const base = `http://127.0.0.1:${port}`
  const call = async (method: string, p: string, auth: string, body?: unknown) => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`)
    return res.json() as Promise<Record<string, unknown>>
  }
  for (let i = 0; ; i++) {
    if ((await fetch(`${base}/healthz`).catch(() => null))?.ok) break
    if (i > 600) throw new Error('the service did not start')
    await sleep(100)
  }
  const ws = await call('POST', '/operator/workspaces', OPERATOR_TOKEN, { name: 'soak' })
  const issued = await call('POST', `/operator/workspaces/${ws.id}/api-keys`, OPERATOR_TOKEN, {
    name: 'soak',
  })
  const key = issued.key as string
  for (let i = 0; i < RULES; i++) {
    await call('POST', '/v1/rules', key, {
      title: `soak ${i}`,
      event_types: ['lead.created'],
      request: { method: 'POST', url: `${receiverUrl}/r${i}`, body_format: 'json' },
    })
  }

  let sent = 0
  let seq = 0
  const postEvents = async (count: number) => {
    const events = Array.from({ length: count }, () => {
      const id = `L-${seq++}`
      return {
        type: 'lead.created',
        record: { entity_type: 'lead', entity_id: id, fields: { lead: { id } } },
      }
    })
    await call('POST', '/v1/events/batch', key, { events })
    sent += count * RULES
  }

  // Calibration: keep a backlog of about 2,000 deliveries and count what goes out.
  process.stdout.write(`calibrating for ${calibrateMs / 1000} s…\n`)
  const calibrateStart = Date.now()
  const deliveredAtStart = delivered
  while (Date.now() - calibrateStart < calibrateMs) {
    if (sent - delivered < 2000) await postEvents(100)
    else await sleep(20)
  }
  const peak = ((delivered - deliveredAtStart) / (Date.now() - calibrateStart)) * 1000
  while (delivered < sent) await sleep(100)
  const rate = peak * share
  process.stdout.write(`peak ${peak.toFixed(0)} deliveries/s; soaking at ${rate.toFixed(0)}/s\n`)

  // The soak: events every tick at `rate`; a sample every 5 s.
  const samples: Sample[] = []
  const start = Date.now()
  const idleFrom = start + (durationMs - idleMs) / 2
  const idleUntil = idleFrom + idleMs
  let idle: pg.Client | undefined
  let owed = 0
  let lastDelivered = delivered
  let lastSample = Date.now()
  const sample = async (phase: Sample['phase']) => {
    const { rows } = await pool.query<{ rows: number; dead: number; kb: number; backlog: number }>(
      `select (select count(*) from jobs)::int as rows,
        (select n_dead_tup from pg_stat_user_tables where relname = 'jobs')::int as dead,
        (pg_total_relation_size('jobs') / 1024)::int as kb,
        (select count(*) from deliveries where status in ('queued', 'delivering'))::int as backlog`,
    )
    const now = Date.now()
    const s: Sample = {
      at_s: Math.round((now - start) / 1000),
      phase,
      delivered_per_s: Math.round(((delivered - lastDelivered) / (now - lastSample)) * 1000),
      backlog: rows[0]!.backlog,
      job_rows: rows[0]!.rows,
      job_dead_rows: rows[0]!.dead,
      job_table_kb: rows[0]!.kb,
      rss_mb: Math.round(rssOf(service.pid as number) / 2 ** 20),
    }
    lastDelivered = delivered
    lastSample = now
    samples.push(s)
    process.stdout.write(`${JSON.stringify(s)}\n`)
  }
  while (Date.now() - start < durationMs) {
    const now = Date.now()
    if (!idle && now >= idleFrom && now < idleUntil) {
      idle = new pg.Client({ connectionString: url, application_name: 'soak-idle' })
      await idle.connect()
      await idle.query('begin isolation level repeatable read')
      await idle.query('select count(*) from jobs')
      process.stdout.write('idle-in-transaction session opened\n')
    }
    if (idle && now >= idleUntil) {
      await idle.query('commit')
      await idle.end()
      idle = undefined
      process.stdout.write('idle-in-transaction session closed\n')
    }
    owed += (rate / RULES) * (TICK_MS / 1000)
    const count = Math.floor(owed)
    if (count > 0) {
      owed -= count
      await postEvents(count)
    }
    if (now - lastSample >= SAMPLE_MS) {
      await sample(now < idleFrom ? 'before' : now < idleUntil ? 'idle-in-transaction' : 'after')
    }
    await sleep(Math.max(0, TICK_MS - (Date.now() - now)))
  }
  if (idle) await idle.end()
  const drainStart = Date.now()
  while (delivered < sent) {
    await sleep(SAMPLE_MS)
    await sample('drain')
  }
  const drainMs = Date.now() - drainStart

  const by = (phase: Sample['phase']) => samples.filter((s) => s.phase === phase)
  const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length))
  const summary = {
    date: new Date().toISOString(),
    minutes: durationMs / 60_000,
    idle_seconds: idleMs / 1000,
    peak_per_s: Math.round(peak),
    offered_per_s: Math.round(rate),
    sent,
    delivered,
    throughput_per_s: Object.fromEntries(
      (['before', 'idle-in-transaction', 'after'] as const).map((p) => [
        p,
        mean(by(p).map((s) => s.delivered_per_s)),
      ]),
    ),
    max_backlog: Math.max(0, ...samples.map((s) => s.backlog)),
    job_rows: {
      max: Math.max(0, ...samples.map((s) => s.job_rows)),
      end: samples.at(-1)?.job_rows,
    },
    job_dead_rows_max: Math.max(0, ...samples.map((s) => s.job_dead_rows)),
    job_table_kb: {
      first: samples[0]?.job_table_kb,
      max: Math.max(0, ...samples.map((s) => s.job_table_kb)),
      end: samples.at(-1)?.job_table_kb,
    },
    rss_mb: { first: samples[0]?.rss_mb, max: Math.max(0, ...samples.map((s) => s.rss_mb)) },
    drain_ms: drainMs,
  }
  process.stdout.write(`\n${JSON.stringify(summary, null, 2)}\n`)
  await mkdir(path.join(root, 'bench/results'), { recursive: true })
  const file = path.join(root, `bench/results/soak-${summary.date.replace(/[:.]/g, '-')}.json`)
  await writeFile(file, JSON.stringify({ summary, samples }, null, 2))
  process.stdout.write(`written to ${path.relative(root, file)}\n`)

  service.kill('SIGTERM')
  await new Promise((resolve) => service.once('exit', resolve))
  receiver.close()
  await pool.end()
  await embedded.stop()
  await rm(dataDir, { recursive: true, force: true })
}

function rssOf(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return Number(kb ?? 0) * 1024
  } catch {
    return 0
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

main().catch((err) => {
  process.stderr.write(`soak failed: ${err?.stack ?? err}\n`)
  process.exit(1)
})
