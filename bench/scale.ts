/**
 * `npm run bench:scale`: Hookline as deployed at scale, on one machine: N
 * `ROLE=api` and K `ROLE=worker` processes (the compiled build `npm start`
 * runs), one PostgreSQL, a load generator and a receiver, each in its own
 * process. The load generator posts events (bench:deliver's workload: one
 * lead.created event, one delivery; 8 tenants with one rule each) to the API
 * processes while the workers deliver them. Per configuration it prints
 * deliveries/s, the cores each process kept busy (CPU seconds over wall
 * seconds, per process tree: `bench/lib/cpu.ts`), the CPU each role spent
 * per delivery, and WAL and history bytes per delivery; it writes
 * `bench/results/scale.json`. `scripts/sizing.ts` turns those per-delivery
 * costs into the README's sizing table.
 *
 * Runs unchanged on any machine: what is not set is derived from its cores.
 * Every setting is a flag (`npm run bench:scale -- --workers=1,2,4`) or an
 * environment variable (`SCALE_WORKERS=1,2,4`); a flag wins.
 *
 *   --workers / SCALE_WORKERS        worker processes per configuration, a list
 *                                    (default: 1, 2, 4 … up to half the cores, at least 1,2)
 *   --api / SCALE_API                API processes (default: a third of the workers, at least 1)
 *   --events / SCALE_EVENTS          events (= deliveries) per timed run (default 10,000 × workers)
 *   --warmup / SCALE_WARMUP          untimed events first, per run (default 2,000 × workers)
 *   --rate / SCALE_RATE              events/s the load generator offers (default 0: as fast as
 *                                    the API answers; set it to measure at a given load)
 *   --batch / SCALE_BATCH            events per POST /v1/events/batch (default 100)
 *   --concurrency / SCALE_CONCURRENCY  WORKER_CONCURRENCY per worker (default 100)
 *   --rounds / SCALE_ROUNDS          rounds over the configurations, medians (default 1)
 *   --quick                          2,000 events and 500 warm-up per worker, nothing written
 *
 * Everything shares the machine's cores: compare "cores busy" (all processes
 * together) with the core count. Where they are all busy, more processes add
 * nothing; the CPU per delivery of each role still holds.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { Agent, request } from 'undici'
import { cpuMeter } from './lib/cpu.js'
import { buildHookline, type HooklineProcess, spawnHookline } from './lib/deliver-hookline.js'
import { freePort } from './lib/deliver-ports.js'
import { ruleBody } from './lib/deliver-workload.js'
import {
  type BenchPostgres,
  HISTORY_BYTES_SQL,
  machineBusySeconds,
  startBenchPostgres,
} from './lib/postgres.js'
import { median, round } from './lib/stats.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const CORES = availableParallelism()
const flag = (name: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const setting = (name: string, env: string) => flag(name) ?? process.env[env]
const numberSetting = (name: string, env: string, fallback: number) => {
  const raw = setting(name, env)
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`--${name} / ${env}: not a number: ${raw}`)
  return value
}
const quick = process.argv.includes('--quick')

/** 1, 2, 4 … up to half the cores (the rest for PostgreSQL, API, load and receiver); at least 1 and 2. */
function defaultWorkers(): number[] {
  const counts = [1, 2]
  for (let n = 4; n <= CORES / 2; n *= 2) counts.push(n)
  return counts
}
const WORKERS = (setting('workers', 'SCALE_WORKERS') ?? defaultWorkers().join(','))
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
const API_SET = setting('api', 'SCALE_API')
// From the measured costs: an API process taking batches spends about a third
// of what a worker spends on the same deliveries (see bench/RESULTS.md).
const apiFor = (workers: number) =>
  API_SET ? Number(API_SET) : Math.max(1, Math.ceil(workers / 3))
const perWorker = quick ? { events: 2_000, warmup: 500 } : { events: 10_000, warmup: 2_000 }
const eventsFor = (workers: number) =>
  numberSetting('events', 'SCALE_EVENTS', perWorker.events * workers)
const warmupFor = (workers: number) =>
  numberSetting('warmup', 'SCALE_WARMUP', perWorker.warmup * workers)
const RATE = numberSetting('rate', 'SCALE_RATE', 0)
const BATCH = numberSetting('batch', 'SCALE_BATCH', 100)
const CONCURRENCY = numberSetting('concurrency', 'SCALE_CONCURRENCY', 100)
const ROUNDS = numberSetting('rounds', 'SCALE_ROUNDS', 1)
// Several tenants, each with a rule: a rule may hold a fifth of WORKER_CONCURRENCY
// across every worker (the fairness cap), so one rule alone would measure the cap.
const TENANTS = 8
const OPERATOR_TOKEN = 'bench-operator-token-0123456789'
const POOL_SIZE = 20

interface Run {
  workers: number
  apiProcesses: number
  deliveries: number
  seconds: number
  deliveriesPerSecond: number
  /** Events/s the API processes took while the workers delivered. */
  ingestPerSecond: number
  /** CPU seconds over wall seconds of each process (tree) over the timed run. */
  coresBusy: {
    api: number[]
    workers: number[]
    postgres: number
    loadGenerator: number
    receiver: number
    total: number
    /** The whole machine, neighbours included (/proc/stat). */
    machine: number
  }
  /** CPU µs per delivery of each role, every process of the role together. */
  cpuUsPerDelivery: {
    api: number
    worker: number
    postgres: number
    loadGenerator: number
    receiver: number
    hookline: number
  }
  walBytesPerDelivery: number
  historyBytesPerDelivery: number
  loadAverageAtStart: number
}

async function main() {
  buildHookline()
  const postgres = await startBenchPostgres()
  const receiver = await startReceiver()
  const runs: Run[] = []
  const log = (line: string) => process.stdout.write(`${line}\n`)
  log(
    `# bench:scale on ${CORES} cores (load average ${loadavg()
      .map((l) => round(l, 1))
      .join(
        '/',
      )}): workers ${WORKERS.join(', ')}; API processes ${WORKERS.map(apiFor).join(', ')}; ` +
      `batches of ${BATCH}; ${RATE ? `${RATE} events/s offered` : 'load as fast as the API answers'}; ` +
      `WORKER_CONCURRENCY ${CONCURRENCY}; ${ROUNDS} round(s)`,
  )
  try {
    for (let round_ = 0; round_ < ROUNDS; round_++) {
      for (const workers of WORKERS) {
        const run = await oneRun(
          postgres,
          receiver,
          workers,
          apiFor(workers),
          `hookline_scale_${workers}`,
        )
        runs.push(run)
        log(describe(run))
      }
    }
  } finally {
    receiver.stop()
    await postgres.stop()
  }
  await report(runs)
}

function describe(r: Run): string {
  const c = r.coresBusy
  const u = r.cpuUsPerDelivery
  return (
    `${r.workers} worker(s), ${r.apiProcesses} API: ${r.deliveriesPerSecond} deliveries/s ` +
    `(${r.deliveries} in ${r.seconds} s, ingest ${r.ingestPerSecond}/s, load average ${r.loadAverageAtStart})\n` +
    `  cores busy: API ${c.api.join(' + ')}, workers ${c.workers.join(' + ')}, PostgreSQL ${c.postgres}, ` +
    `load generator ${c.loadGenerator}, receiver ${c.receiver}; all ${c.total} of ${CORES} (machine ${c.machine})\n` +
    `  CPU µs per delivery: API ${u.api}, worker ${u.worker}, PostgreSQL ${u.postgres} ` +
    `(Hookline ${u.hookline}); load generator ${u.loadGenerator}, receiver ${u.receiver}; ` +
    `WAL ${r.walBytesPerDelivery} B, history ${r.historyBytesPerDelivery} B per delivery`
  )
}

async function oneRun(
  postgres: BenchPostgres,
  receiver: { url: string; pid: number },
  workers: number,
  apiProcesses: number,
  name: string,
): Promise<Run> {
  const databaseUrl = await postgres.createDatabase(name)
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-scale-'))
  const options = {
    databaseUrl,
    workerConcurrency: CONCURRENCY,
    databasePoolSize: POOL_SIZE,
    encryptionKey: randomBytes(32).toString('base64'),
    dataDir,
    // One receiver stands for every tenant's: no host cap (it holds across all workers).
    env: { WORKER_CONCURRENCY_PER_HOST: String(Math.min(2000, CONCURRENCY * workers)) },
  }
  const processes: HooklineProcess[] = []
  const client = new pg.Client({ connectionString: databaseUrl })
  const agent = new Agent({ connections: 4 })
  try {
    // The first API process migrates; the others start once it has.
    const apiUrls: string[] = []
    const apis: HooklineProcess[] = []
    for (let i = 0; i < apiProcesses; i++) {
      const port = await freePort()
      const api = await spawnHookline('api', { ...options, port })
      processes.push(api)
      apis.push(api)
      apiUrls.push(`http://127.0.0.1:${port}`)
      await until(() =>
        request(`${apiUrls[i]}/readyz`, { dispatcher: agent }).then(
          async (r) => {
            await r.body.dump()
            return r.statusCode === 200
          },
          () => false,
        ),
      )
    }
    await client.connect()
    const keys = await tenants(apiUrls[0]!, receiver.url, agent)
    const workerProcesses: HooklineProcess[] = []
    for (let i = 0; i < workers; i++) {
      const worker = await spawnHookline('worker', options)
      processes.push(worker)
      workerProcesses.push(worker)
    }
    await until(async () => {
      const { rows } = await client.query(
        `select count(*)::int as n from pg_stat_activity where application_name = 'hookline-queue-listener'
           and datname = current_database()`,
      )
      return rows[0].n === workers
    })
    const delivered = async () =>
      (
        await client.query(
          `select count(*) filter (where status = 'succeeded')::int as ok,
                  count(*) filter (where status in ('failed', 'cancelled'))::int as bad
             from deliveries`,
        )
      ).rows[0] as { ok: number; bad: number }
    const drained = async (n: number) => {
      const { ok, bad } = await delivered()
      if (bad > 0) throw new Error(`${bad} deliveries failed`)
      return ok === n
    }

    const warmup = warmupFor(workers)
    const events = eventsFor(workers)
    const plan = { apiUrls, keys, batch: BATCH, inFlight: 2 * apiProcesses }
    await load({ ...plan, from: 0, count: warmup, rate: 0 })
    await until(() => drained(warmup), 600_000)
    await postgres.settle(name)

    const loadAverageAtStart = round(loadavg()[0] ?? 0, 1)
    const trees: Record<string, () => readonly number[]> = {
      postgres: () => [postgres.pid()],
      receiver: () => [receiver.pid],
    }
    apis.forEach((p, i) => {
      trees[`api${i}`] = () => [p.pid]
    })
    workerProcesses.forEach((p, i) => {
      trees[`worker${i}`] = () => [p.pid]
    })
    const meter = cpuMeter(trees)
    const machine0 = machineBusySeconds()
    const wal0 = (await client.query('select pg_current_wal_insert_lsn()::text as lsn')).rows[0].lsn
    const started = performance.now()
    const loaded = await load({ ...plan, from: warmup, count: events, rate: RATE })
    await until(() => drained(warmup + events), 600_000)
    const seconds = (performance.now() - started) / 1000
    const used = meter.read()
    const machine = machineBusySeconds() - machine0
    const wal = (
      await client.query(
        'select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::float8 as b',
        [wal0],
      )
    ).rows[0].b as number
    const history = (await client.query(HISTORY_BYTES_SQL)).rows[0].bytes as number

    const busy = (s: number) => round(s / seconds, 2)
    const us = (s: number) => Math.round((s * 1e6) / events)
    const apiCpu = apis.map((_, i) => used[`api${i}`] ?? 0)
    const workerCpu = workerProcesses.map((_, i) => used[`worker${i}`] ?? 0)
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
    const total = sum(apiCpu) + sum(workerCpu) + used.postgres! + loaded.cpuSeconds + used.receiver!
    return {
      workers,
      apiProcesses,
      deliveries: events,
      seconds: round(seconds, 2),
      deliveriesPerSecond: Math.round(events / seconds),
      ingestPerSecond: Math.round(events / loaded.seconds),
      coresBusy: {
        api: apiCpu.map(busy),
        workers: workerCpu.map(busy),
        postgres: busy(used.postgres!),
        loadGenerator: busy(loaded.cpuSeconds),
        receiver: busy(used.receiver!),
        total: busy(total),
        machine: busy(machine),
      },
      cpuUsPerDelivery: {
        api: us(sum(apiCpu)),
        worker: us(sum(workerCpu)),
        postgres: us(used.postgres!),
        loadGenerator: us(loaded.cpuSeconds),
        receiver: us(used.receiver!),
        hookline: us(sum(apiCpu) + sum(workerCpu) + used.postgres!),
      },
      walBytesPerDelivery: Math.round(wal / events),
      historyBytesPerDelivery: Math.round(history / (warmup + events)),
      loadAverageAtStart,
    }
  } finally {
    await Promise.all(processes.map((p) => p.stop()))
    await client.end().catch(() => {})
    await agent.close()
    await postgres.query('postgres', `drop database if exists ${name} with (force)`)
    await rm(dataDir, { recursive: true, force: true })
  }
}

/** Creates the tenants through the API (operator token), each with a key and bench:deliver's rule. */
async function tenants(apiUrl: string, receiverUrl: string, agent: Agent): Promise<string[]> {
  const call = async (url: string, token: string, body: unknown) => {
    const res = await request(`${apiUrl}${url}`, {
      method: 'POST',
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    const text = await res.body.text()
    if (res.statusCode >= 300) throw new Error(`POST ${url}: ${res.statusCode} ${text}`)
    return JSON.parse(text)
  }
  const keys: string[] = []
  for (let i = 0; i < TENANTS; i++) {
    const ws = await call('/operator/workspaces', OPERATOR_TOKEN, { name: `Tenant ${i}` })
    const { key } = await call(`/operator/workspaces/${ws.id}/api-keys`, OPERATOR_TOKEN, {
      name: 'bench',
    })
    await call('/v1/rules', key, ruleBody(`${receiverUrl}/t${i}`))
    keys.push(key)
  }
  return keys
}

/** Runs the load generator (bench/lib/scale-load.ts) in its own process until it has posted everything. */
function load(plan: object): Promise<{ posted: number; seconds: number; cpuSeconds: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'bench/lib/scale-load.ts'), JSON.stringify(plan)],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator exited (${code})`))
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}'))
    })
  })
}

async function startReceiver() {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'bench/lib/scale-receiver.ts')],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
    child.once('exit', (code) => reject(new Error(`receiver exited (${code})`)))
  })
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    stop: () => child.kill('SIGTERM'),
  }
}

async function until(check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function report(runs: Run[]) {
  const summary = WORKERS.map((workers) => {
    const of = runs.filter((r) => r.workers === workers)
    const m = (pick: (r: Run) => number) => median(of.map(pick))
    return {
      workers,
      api_processes: apiFor(workers),
      median_dps: m((r) => r.deliveriesPerSecond),
      median_cores_busy: m((r) => r.coresBusy.total),
      cpu_us_per_delivery: {
        api: m((r) => r.cpuUsPerDelivery.api),
        worker: m((r) => r.cpuUsPerDelivery.worker),
        postgres: m((r) => r.cpuUsPerDelivery.postgres),
        load_generator: m((r) => r.cpuUsPerDelivery.loadGenerator),
        receiver: m((r) => r.cpuUsPerDelivery.receiver),
      },
      wal_bytes_per_delivery: m((r) => r.walBytesPerDelivery),
      history_bytes_per_delivery: m((r) => r.historyBytesPerDelivery),
    }
  })
  // The headline costs (scripts/sizing.ts reads them): the first
  // configuration's, one worker by default, where the processes compete
  // least for the cores on a small machine.
  const base = summary[0]!
  const conditions = {
    date: new Date().toISOString(),
    machine: `${CORES} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    // Other work on the machine takes cores from the run: read the figures against this.
    load_average_1m_at_end: round(loadavg()[0] ?? 0, 1),
    workers: WORKERS,
    api_processes: WORKERS.map(apiFor),
    events_per_run: WORKERS.map(eventsFor),
    warmup_per_run: WORKERS.map(warmupFor),
    offered_rate: RATE || 'as fast as the API answers',
    batch: BATCH,
    rounds: ROUNDS,
    tenants: TENANTS,
    worker_concurrency: CONCURRENCY,
    build: 'compiled (dist/server.js, as npm start runs it)',
    postgres:
      'embedded, one cluster on the same machine, synchronous_commit=off (bench/lib/postgres.ts)',
    receiver: 'one Node process on 127.0.0.1 answering 200 at once',
  }
  const result = {
    cpu_us_per_delivery_api: base.cpu_us_per_delivery.api,
    cpu_us_per_delivery_worker: base.cpu_us_per_delivery.worker,
    cpu_us_per_delivery_postgres: base.cpu_us_per_delivery.postgres,
    wal_bytes_per_delivery: base.wal_bytes_per_delivery,
    history_bytes_per_delivery: base.history_bytes_per_delivery,
    conditions,
    summary,
    runs,
  }
  if (quick) {
    process.stdout.write(`--quick: nothing written\n${JSON.stringify(conditions)}\n`)
    return
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
