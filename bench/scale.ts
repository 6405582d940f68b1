/**
 * `npm run bench:scale`: 1, 2 and 4 `ROLE=worker` processes (`tsx src/server.ts`)
 * draining the same number of pre-queued deliveries from one PostgreSQL to a
 * receiver in its own process. Prints deliveries/s and who used the CPU, and
 * writes bench/results/scale.json.
 *
 * Each run: post the events with no worker running (the deliveries and their
 * jobs are queued), hold the jobs, start the workers, wait until every one is
 * listening, release the jobs at once, and time from the release (database
 * clock) to the last delivery's finished_at. Worker start-up is not timed.
 *
 * Environment: SCALE_DELIVERIES per run (default 2000), SCALE_WORKERS
 * (default "1,2,4"), SCALE_REPEATS (rounds, default 3), SCALE_CONCURRENCY
 * (WORKER_CONCURRENCY per process, default 50).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { connectDatabase } from '../src/db/database.js'
import { migrate } from '../src/db/migrate.js'
import { JOBS_CHANNEL } from '../src/queue/notification.js'
import { parseEncryptionKey, SecretBox } from '../src/security/secret-box.js'
import { startBenchPostgres } from './lib/postgres.js'
import { median, round } from './lib/stats.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const DELIVERIES = Number(process.env.SCALE_DELIVERIES ?? 2000)
// Rounds of 1, 2, 4 workers, interleaved, so a burst of load elsewhere on a
// shared machine hits every configuration alike; each figure is a median.
const REPEATS = Number(process.env.SCALE_REPEATS ?? 3)
const WORKER_COUNTS = (process.env.SCALE_WORKERS ?? '1,2,4').split(',').map(Number)
const CONCURRENCY = Number(process.env.SCALE_CONCURRENCY ?? 50)
// Several tenants, each with a rule: one rule may hold a fifth of a worker's
// slots (the fairness cap, across every worker), so one rule alone would
// measure the cap.
const WORKSPACES = 8
const OPERATOR_TOKEN = 'bench-operator-token-0123456789'
const ENCRYPTION_KEY = randomBytes(32).toString('base64')

interface Run {
  workers: number
  deliveries: number
  seconds: number
  deliveriesPerSecond: number
  cpu: { postgres: number; workers: number; receiver: number; total: number }
  /** CPU seconds used per wall second: 2.0 is both cores busy. */
  coresBusy: number
  /** CPU (Postgres + workers + receiver) per delivery: steadier than wall time on a busy host. */
  cpuMsPerDelivery: number
  /** Jobs enqueued during the run per delivery: above 0 means sends deferred by the fairness caps. */
  deferralsPerDelivery: number
  /** Database transactions committed per delivery (claims, reads, outcome, completion). */
  commitsPerDelivery: number
  /** The machine's 1-minute load average as the run started (2 = both cores busy already). */
  loadAverage: number
}

async function main() {
  const postgres = await startBenchPostgres()
  const receiver = await startReceiver()
  const runs: Run[] = []
  try {
    const databaseUrl = await postgres.createDatabase('hookline_scale')
    const setup = await connectSetup(databaseUrl, receiver.url)
    try {
      for (let pass = 0; pass < REPEATS; pass++) {
        for (const workers of WORKER_COUNTS) {
          await setup.queue(DELIVERIES)
          await postgres.settle('hookline_scale')
          const run = await drain(databaseUrl, workers, () => postgres.cpuSeconds(), receiver.pid)
          runs.push(run)
          process.stdout.write(
            `${workers} worker process${workers === 1 ? ' ' : 'es'}: ${run.deliveriesPerSecond} deliveries/s ` +
              `(${run.deliveries} in ${run.seconds} s; CPU s: postgres ${run.cpu.postgres}, ` +
              `workers ${run.cpu.workers}, receiver ${run.cpu.receiver}; ${run.coresBusy} cores busy; ` +
              `${run.commitsPerDelivery} commits and ${run.deferralsPerDelivery} deferrals per delivery; ` +
              `load average ${run.loadAverage})\n`,
          )
        }
      }
    } finally {
      await setup.close()
    }
  } finally {
    receiver.stop()
    await postgres.stop()
  }
  await report(runs)
}

/** The in-process app, used only to create tenants and post events (never sends). */
async function connectSetup(databaseUrl: string, receiverUrl: string) {
  const database = connectDatabase(databaseUrl, { max: 4 })
  await migrate(database.pool)
  const config = loadConfig(
    {},
    { databaseUrl, operatorToken: OPERATOR_TOKEN, outboundAllowList: '127.0.0.1/32' },
  )
  const box = new SecretBox(parseEncryptionKey(ENCRYPTION_KEY))
  const app = await buildApp({ config, db: database.db, pool: database.pool, box })
  const operator = { authorization: `Bearer ${OPERATOR_TOKEN}` }
  const call = async (method: 'POST', url: string, headers: object, payload: object) => {
    const res = await app.inject({ method, url, headers: headers as never, payload })
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
    return res.json()
  }
  const keys: string[] = []
  for (let i = 0; i < WORKSPACES; i++) {
    const ws = await call('POST', '/operator/workspaces', operator, { name: `Tenant ${i}` })
    const key = await call('POST', `/operator/workspaces/${ws.id}/api-keys`, operator, {
      name: 'bench',
    })
    const auth = { authorization: `Bearer ${key.key}` }
    await call('POST', '/v1/rules', auth, {
      title: 'All leads',
      event_types: ['lead.created'],
      request: {
        method: 'POST',
        url: `${receiverUrl}/t${i}/{{lead.id}}`,
        body_format: 'json',
        body_template: '{"id": "{{lead.id}}", "name": "{{lead.name}}", "email": "{{lead.email}}"}',
      },
    })
    keys.push(key.key)
  }
  let next = 0
  return {
    /** Posts `n` events spread over the tenants: n deliveries, queued. */
    async queue(n: number) {
      for (let posted = 0, batch = 0; posted < n; batch++) {
        const tenant = batch % WORKSPACES
        // Small batches, tenant after tenant: the queue's order interleaves them as real traffic does.
        const size = Math.min(25, n - posted)
        const events = Array.from({ length: size }, () => {
          const id = `L-${next++}`
          return {
            type: 'lead.created',
            record: {
              entity_type: 'lead',
              entity_id: id,
              fields: { lead: { id, name: 'Ada Lovelace', email: 'ada@example.com' } },
            },
          }
        })
        await call(
          'POST',
          '/v1/events/batch',
          { authorization: `Bearer ${keys[tenant]}` },
          { events },
        )
        posted += size
      }
    },
    async close() {
      await app.close()
      await database.close()
    },
  }
}

/** One timed run: K worker processes drain what is queued. */
async function drain(
  databaseUrl: string,
  workers: number,
  postgresCpu: () => number,
  receiverPid: number,
): Promise<Run> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-scale-'))
  const children: ChildProcess[] = []
  try {
    // Hold the queued jobs while the workers start.
    const { rowCount: queued } = await client.query(
      `update jobs set run_at = now() + interval '1 hour' where kind = 'delivery.send'`,
    )
    for (let i = 0; i < workers; i++) children.push(spawnWorker(databaseUrl, dataDir))
    await until(async () => {
      const { rows } = await client.query(
        `select count(*)::int as n from pg_stat_activity where application_name = 'hookline-queue-listener'`,
      )
      return rows[0].n === workers
    }, 60_000)

    const counters = async () =>
      (
        await client.query(
          `select coalesce(pg_sequence_last_value(pg_get_serial_sequence('jobs', 'id')), 0)::float8 as jobs,
             (select xact_commit from pg_stat_database where datname = current_database())::float8 as commits`,
        )
      ).rows[0] as { jobs: number; commits: number }
    const countersBefore = await counters()
    const loadAverage = round(loadavg()[0] ?? 0, 1)
    const cpuBefore = {
      postgres: postgresCpu(),
      workers: children.reduce((sum, c) => sum + processCpu(c.pid), 0),
      receiver: processCpu(receiverPid),
    }
    const started = (
      await client.query(
        `with released as (update jobs set run_at = now() where kind = 'delivery.send' returning 1)
         select now() as at, pg_notify($1, json_build_object('due', (select count(*) from released))::text)`,
        [JOBS_CHANNEL],
      )
    ).rows[0].at as Date
    await until(async () => {
      const { rows } = await client.query(
        `select count(*)::int as n from deliveries where status in ('queued', 'delivering')`,
      )
      return rows[0].n === 0
    }, 600_000)
    const { rows } = await client.query(
      `select max(finished_at) as at, count(*) filter (where status = 'succeeded' and finished_at >= $1)::int as ok
       from deliveries where finished_at >= $1`,
      [started],
    )
    // pg_stat_database lags by up to a stats flush; a short wait settles it.
    await new Promise((r) => setTimeout(r, 1500))
    const countersAfter = await counters()
    const cpu = {
      postgres: postgresCpu() - cpuBefore.postgres,
      workers: children.reduce((sum, c) => sum + processCpu(c.pid), 0) - cpuBefore.workers,
      receiver: processCpu(receiverPid) - cpuBefore.receiver,
    }
    const seconds = (rows[0].at.getTime() - started.getTime()) / 1000
    if (rows[0].ok !== queued) throw new Error(`${rows[0].ok} of ${queued} deliveries succeeded`)
    const total = cpu.postgres + cpu.workers + cpu.receiver
    return {
      workers,
      deliveries: rows[0].ok,
      seconds: round(seconds, 2),
      deliveriesPerSecond: Math.round(rows[0].ok / seconds),
      cpu: {
        postgres: round(cpu.postgres, 1),
        workers: round(cpu.workers, 1),
        receiver: round(cpu.receiver, 1),
        total: round(total, 1),
      },
      coresBusy: round(total / seconds, 2),
      cpuMsPerDelivery: round((total * 1000) / rows[0].ok, 2),
      deferralsPerDelivery: round((countersAfter.jobs - countersBefore.jobs) / rows[0].ok, 2),
      commitsPerDelivery: round((countersAfter.commits - countersBefore.commits) / rows[0].ok, 1),
      loadAverage,
    }
  } finally {
    await Promise.all(children.map(stopChild))
    await client.end()
    await rm(dataDir, { recursive: true, force: true })
  }
}

function spawnWorker(databaseUrl: string, dataDir: string): ChildProcess {
  return spawn(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'src/server.ts')], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ROLE: 'worker',
      PORT: '0',
      DATABASE_URL: databaseUrl,
      DATA_DIR: dataDir,
      ENCRYPTION_KEY,
      OUTBOUND_ALLOW_LIST: '127.0.0.1/32',
      WORKER_CONCURRENCY: String(CONCURRENCY),
      // The tenants' one receiver stands for one each: no host cap. The cap
      // holds across every worker, so it must cover all of them together.
      WORKER_CONCURRENCY_PER_HOST: String(Math.min(2000, CONCURRENCY * Math.max(...WORKER_COUNTS))),
      DATABASE_POOL_SIZE: '20',
      BOOTSTRAP_WORKSPACE: 'false',
      LOG_LEVEL: 'warn',
    },
  })
}

async function startReceiver() {
  const child = spawn(
    path.join(root, 'node_modules/.bin/tsx'),
    [path.join(root, 'bench/lib/scale-receiver.ts')],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
    child.once('exit', (code) => reject(new Error(`receiver exited (${code})`)))
  })
  // tsx runs the script in a child of its own; its CPU is what the receiver uses.
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    stop: () => child.kill('SIGTERM'),
  }
}

/** CPU seconds of a process and its descendants that are still running (tsx forks node). */
function processCpu(pid: number | undefined): number {
  if (!pid) return 0
  let ticks = 0
  const stack = [String(pid)]
  while (stack.length > 0) {
    const current = stack.pop()!
    try {
      const text = readFileSync(`/proc/${current}/stat`, 'utf8')
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
      ticks += Number(f[11]) + Number(f[12])
      const children = readFileSync(`/proc/${current}/task/${current}/children`, 'utf8')
      stack.push(...children.split(' ').filter(Boolean))
    } catch {
      // gone
    }
  }
  return ticks / 100
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

async function until(check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function report(runs: Run[]) {
  const of = (n: number) => runs.filter((r) => r.workers === n)
  const byWorkers = (n: number) =>
    of(n).length ? median(of(n).map((r) => r.deliveriesPerSecond)) : null
  const summary = WORKER_COUNTS.map((n) => ({
    workers: n,
    median_dps: byWorkers(n),
    all_dps: of(n).map((r) => r.deliveriesPerSecond),
    median_cpu_ms_per_delivery: median(of(n).map((r) => r.cpuMsPerDelivery)),
    median_cores_busy: median(of(n).map((r) => r.coresBusy)),
  }))
  for (const line of summary) {
    process.stdout.write(
      `median, ${line.workers} worker process${line.workers === 1 ? ' ' : 'es'}: ${line.median_dps} deliveries/s ` +
        `(runs: ${line.all_dps.join(', ')}), ${line.median_cpu_ms_per_delivery} ms CPU per delivery, ` +
        `${line.median_cores_busy} cores busy\n`,
    )
  }
  const conditions = {
    date: new Date().toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    // Other work on the machine takes cores from the run: read the figures against this.
    load_average_1m_at_end: round(loadavg()[0] ?? 0, 1),
    deliveries_per_run: DELIVERIES,
    rounds: REPEATS,
    tenants: WORKSPACES,
    worker_concurrency: CONCURRENCY,
    postgres: 'embedded 18, one cluster on the same machine, synchronous_commit=off',
    receiver: 'one Node process on 127.0.0.1 answering 200 at once',
  }
  const result = {
    workers_1_dps: byWorkers(1),
    workers_2_dps: byWorkers(2),
    workers_4_dps: byWorkers(4),
    conditions,
    summary,
    runs,
  }
  const dir = path.join(root, 'bench/results')
  await mkdir(dir, { recursive: true })
  await writeFile(path.join(dir, 'scale.json'), `${JSON.stringify(result, null, 2)}\n`)
  process.stdout.write(`wrote bench/results/scale.json\n${JSON.stringify(conditions)}\n`)
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`)
  process.exit(1)
})
