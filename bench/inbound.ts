/**
 * `npm run bench:inbound`: issue 5's benchmark. One embedded PostgreSQL with
 * durable commits (fsync and synchronous_commit on: an answered call is on
 * disk), one Hookline app and one bare Fastify app in this process, load from
 * separate processes (lib/inbound-load.ts). Hookline's code is the compiled
 * build `npm start` runs (built fresh first), not the sources through tsx:
 * tsx's esbuild wraps every named function it makes in a `__name` call, a
 * cost per closure that production does not pay. Figures go to stdout with their
 * conditions and to bench/results/inbound.json.
 */
import { fork } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import pg from 'pg'
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js'
import { buildHookline } from './lib/deliver-hookline.js'
import type { LoadResult, LoadSpec } from './lib/inbound-load.js'
import { clusterCpuSeconds, processCpuSeconds } from './lib/postgres.js'
import { median, percentile, round } from './lib/stats.js'

const OPERATOR = 'bench-operator-token-0123456789'
const postgresSettings = {
  shared_buffers: '512MB',
  max_connections: 100,
  fsync: 'on',
  synchronous_commit: 'on',
  max_wal_size: '8GB',
  checkpoint_timeout: '30min',
}
const ROUNDS = 3
const MAX_SECONDS = 8
const LATENCY_SECONDS = 12
const FLOOR_SECONDS = 6
const FLOOD_RATE = 10_000
const CONNECTIONS = 256
const REFUSED_SECONDS = 8

const log = (line = '') => process.stdout.write(`${line}\n`)

// Calls Hookline answered 200, over every run: each must be in the call log.
let answered200 = 0

function load(spec: LoadSpec): Promise<LoadResult> {
  const child = fork(
    fileURLToPath(new URL('./lib/inbound-load.ts', import.meta.url)),
    [JSON.stringify(spec)],
    {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  return new Promise((resolve, reject) => {
    let result: LoadResult | undefined
    child.on('message', (m: { result: LoadResult }) => {
      result = m.result
    })
    child.on('exit', (code) => {
      if (!result) return reject(new Error(`load generator exited with ${code}`))
      if (spec.target === 'lead') answered200 += result.statuses['200'] ?? 0
      resolve(result)
    })
  })
}

/** CPU per answered call (µs) of each party over one closed-loop run. */
interface CallCpu {
  server: number
  postgres: number
  load: number
}

/**
 * A closed-loop run with the CPU each party spent on it: the server (this
 * process, where both apps run; the idle one costs nothing), the whole
 * PostgreSQL cluster, and the load generator. On a shared two-core host
 * wall-clock rates swing with the neighbours; CPU per call barely does, and
 * its sum says what rate the cores allow at all.
 */
async function measuredLoad(
  spec: LoadSpec,
  dataDir: string,
): Promise<{ result: LoadResult; cpu: CallCpu }> {
  const server0 = processCpuSeconds(process.pid)
  const postgres0 = clusterCpuSeconds(dataDir)
  const result = await load(spec)
  const server = processCpuSeconds(process.pid) - server0
  const postgres = clusterCpuSeconds(dataDir) - postgres0
  const calls = Math.max(1, result.statuses['200'] ?? 0)
  const perCall = (seconds: number) => round((seconds * 1e6) / calls)
  return {
    result,
    cpu: {
      server: perCall(server),
      postgres: perCall(postgres),
      load: perCall(result.cpuSeconds),
    },
  }
}

const cpuLine = (cpu: CallCpu) =>
  `CPU µs per call: server ${cpu.server}, PostgreSQL ${cpu.postgres}, load generator ${cpu.load}`

/** Hookline's modules from the compiled build (see the top of this file). */
async function compiledHookline() {
  buildHookline()
  const dist = (file: string) => new URL(`../dist/${file}`, import.meta.url).href
  const [{ buildApp }, { loadConfig }, { connectDatabase }, { migrate }, { SecretBox }] =
    await Promise.all([
      import(dist('app.js')) as Promise<typeof import('../src/app.js')>,
      import(dist('config.js')) as Promise<typeof import('../src/config.js')>,
      import(dist('db/database.js')) as Promise<typeof import('../src/db/database.js')>,
      import(dist('db/migrate.js')) as Promise<typeof import('../src/db/migrate.js')>,
      import(dist('security/secret-box.js')) as Promise<
        typeof import('../src/security/secret-box.js')
      >,
    ])
  return { buildApp, loadConfig, connectDatabase, migrate, SecretBox }
}

async function main() {
  const began = Date.now()
  const { buildApp, loadConfig, connectDatabase, migrate, SecretBox } = await compiledHookline()
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-bench-inbound-'))
  const server = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    settings: postgresSettings,
  })
  const admin = new pg.Client({ connectionString: server.connectionString('postgres') })
  await admin.connect()
  await admin.query('create database bench_inbound')
  const { rows } = await admin.query('show server_version')
  await admin.end()
  const database = connectDatabase(server.connectionString('bench_inbound'), { max: 20 })
  await migrate(database.pool)

  const config = loadConfig(
    {},
    {
      operatorToken: OPERATOR,
      logLevel: 'silent',
      inboundRatePerToken: 0,
      inboundRatePerAddress: 0,
      bootstrapWorkspace: false,
    },
  )
  const box = new SecretBox(Buffer.alloc(32, 3))
  const app = await buildApp({ config, db: database.db, pool: database.pool, box })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const bare = Fastify({ logger: false })
  bare.get('/', async () => ({ ok: true }))
  // The floor for durable calls: the same JSON POST, parsed and answered.
  bare.post('/json', async (request) => ({
    ok: true,
    fields: Object.keys(request.body as object).length,
  }))
  await bare.listen({ port: 0, host: '127.0.0.1' })
  const bareOrigin = `http://127.0.0.1:${(bare.server.address() as { port: number }).port}`

  const operator = { authorization: `Bearer ${OPERATOR}` }
  const ws = (
    await app.inject({
      method: 'POST',
      url: '/operator/workspaces',
      headers: operator,
      payload: { name: 'bench' },
    })
  ).json()
  const key = (
    await app.inject({
      method: 'POST',
      url: `/operator/workspaces/${ws.id}/api-keys`,
      headers: operator,
      payload: { name: 'bench' },
    })
  ).json().key
  const auth = { authorization: `Bearer ${key}` }
  await app.inject({
    method: 'PATCH',
    url: '/v1/settings',
    headers: auth,
    payload: { crm_callback_url: 'https://crm.example/notices' },
  })
  const handler = (
    await app.inject({
      method: 'POST',
      url: '/v1/handlers',
      headers: auth,
      payload: {
        title: 'Bench: JSON leads',
        body_format: 'json',
        parameters: [
          { name: 'email', type: 'email', required: true },
          { name: 'name', type: 'string', required: false },
          { name: 'phone', type: 'phone', required: false },
          { name: 'amount', type: 'number', required: false },
        ],
        mapping: [
          { source: 'email', target: 'lead.email' },
          { source: 'name', target: 'lead.name' },
          { source: 'phone', target: 'lead.phone' },
          { source: 'amount', target: 'lead.amount' },
          { source: 'source', target: 'lead.source' },
        ],
        protection: { period_seconds: 60, parameters: ['email'] },
      },
    })
  ).json()
  const handlerPath = new URL(handler.endpoint_url).pathname

  log(`# Inbound benchmark`)
  log(
    `machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; ` +
      `PostgreSQL ${rows[0].server_version} (embedded, same host)`,
  )
  log(`postgres settings: ${JSON.stringify(postgresSettings)}`)
  log(
    'handler: POST JSON, 4 typed parameters, 5-field mapping, 60 s protection period on email, forwarded as an ' +
      'inbound.record notice (queued; no workers run, so sending does not compete for the CPU)',
  )
  log(`load: separate Node processes (undici), ${CONNECTIONS} keep-alive connections`)
  log(
    `load average at start: ${loadavg()
      .map((l) => round(l, 2))
      .join(' ')}\n`,
  )

  // Warm both servers (JIT, pools, caches); not measured.
  await load({
    origin,
    mode: 'closed',
    connections: CONNECTIONS,
    durationMs: 3000,
    target: 'lead',
    path: handlerPath,
  })
  await load({
    origin: bareOrigin,
    mode: 'closed',
    connections: CONNECTIONS,
    durationMs: 2000,
    target: 'bare',
    path: '/',
  })

  log(
    `## 1. Accepted calls per second (closed loop, ${ROUNDS} rounds of ${MAX_SECONDS} s, alternating)`,
  )
  const hooklineRates: number[] = []
  const bareRates: number[] = []
  const bareJsonRates: number[] = []
  const hooklineCpu: CallCpu[] = []
  const bareCpu: CallCpu[] = []
  const bareJsonCpu: CallCpu[] = []
  const closedLoop = {
    mode: 'closed',
    connections: CONNECTIONS,
    durationMs: MAX_SECONDS * 1000,
  } as const
  for (let round_ = 1; round_ <= ROUNDS; round_++) {
    const b = await measuredLoad(
      { ...closedLoop, origin: bareOrigin, target: 'bare', path: '/' },
      dataDir,
    )
    bareRates.push((b.result.statuses['200'] ?? 0) / b.result.seconds)
    bareCpu.push(b.cpu)
    const j = await measuredLoad(
      { ...closedLoop, origin: bareOrigin, target: 'bare-json', path: '/json' },
      dataDir,
    )
    bareJsonRates.push((j.result.statuses['200'] ?? 0) / j.result.seconds)
    bareJsonCpu.push(j.cpu)
    const h = await measuredLoad(
      { ...closedLoop, origin, target: 'lead', path: handlerPath },
      dataDir,
    )
    hooklineRates.push((h.result.statuses['200'] ?? 0) / h.result.seconds)
    hooklineCpu.push(h.cpu)

    log(
      `round ${round_}: bare fastify ${round(bareRates.at(-1)!)} req/s (${cpuLine(b.cpu)}); ` +
        `bare fastify JSON POST ${round(bareJsonRates.at(-1)!)} req/s (${cpuLine(j.cpu)}); ` +
        `hookline ${round(hooklineRates.at(-1)!)} accepted/s (p50 ${round(h.result.p50, 1)} ms, ` +
        `p99 ${round(h.result.p99, 1)} ms, statuses ${JSON.stringify(h.result.statuses)}, ` +
        `errors ${h.result.errors}; ${cpuLine(h.cpu)})`,
    )
  }
  const accepted = median(hooklineRates)
  const bareRps = median(bareRates)
  const bareJsonRps = median(bareJsonRates)
  log(
    `median: hookline ${round(accepted)} accepted/s, bare ${round(bareRps)} req/s = ${round((accepted / bareRps) * 100, 1)} %, ` +
      `bare JSON POST ${round(bareJsonRps)} req/s = ${round((accepted / bareJsonRps) * 100, 1)} % (target ≥ 15 %)`,
  )
  const cpuMedian = (runs: CallCpu[]): CallCpu => ({
    server: median(runs.map((c) => c.server)),
    postgres: median(runs.map((c) => c.postgres)),
    load: median(runs.map((c) => c.load)),
  })
  const hooklineCall = cpuMedian(hooklineCpu)
  const bareCall = cpuMedian(bareCpu)
  const bareJsonCall = cpuMedian(bareJsonCpu)
  // What the cores allow: every party of a call shares them, so no rate can
  // exceed cores ÷ (CPU per call), however the work is scheduled.
  const ceiling = (cpu: CallCpu) =>
    round((cpus().length * 1e6) / (cpu.server + cpu.postgres + cpu.load))
  log(
    `median ${cpuLine(hooklineCall)}: at most ${ceiling(hooklineCall)} calls/s on ${cpus().length} cores; ` +
      `without the load generator's share ${round((cpus().length * 1e6) / (hooklineCall.server + hooklineCall.postgres))}/s`,
  )
  log(`bare route: median ${cpuLine(bareCall)}: at most ${ceiling(bareCall)} req/s`)
  log(
    `bare JSON POST: median ${cpuLine(bareJsonCall)}: at most ${ceiling(bareJsonCall)} req/s; ` +
      `hookline server + PostgreSQL ÷ bare JSON server ${round((hooklineCall.server + hooklineCall.postgres) / Math.max(1, bareJsonCall.server), 2)}× (target ≤ 5)\n`,
  )

  const half = Math.max(1, Math.round(accepted / 2))
  log(`## 2. Latency at half the peak rate (${half} calls/s, open loop, ${LATENCY_SECONDS} s)`)
  const validLoad: LoadSpec = {
    origin,
    mode: 'open',
    rate: half,
    connections: CONNECTIONS,
    durationMs: LATENCY_SECONDS * 1000,
    target: 'lead',
    path: handlerPath,
  }
  const steady = await load(validLoad)
  log(
    `p50 ${round(steady.p50, 2)} ms, p99 ${round(steady.p99, 2)} ms (${steady.completed} calls, statuses ${JSON.stringify(steady.statuses)})`,
  )
  // The same open loop against the bare route: what this machine and load
  // generator add to any answer (timer lag, scheduling), the floor under the
  // figures above.
  const floor = await load({
    ...validLoad,
    origin: bareOrigin,
    target: 'bare',
    path: '/',
    durationMs: FLOOR_SECONDS * 1000,
  })
  log(
    `floor: the bare route at the same rate, ${FLOOR_SECONDS} s: p50 ${round(floor.p50, 2)} ms, p99 ${round(floor.p99, 2)} ms\n`,
  )

  // The flood comes from its own address (127.0.0.2), as an attack would.
  // The valid calls come from several senders (127.0.0.1, .3, .4, …), each
  // under the default per-address limit, as a busy handler's calls come from
  // a sender's pool of addresses. Twice: with no rate limits, where only the
  // miss limit (INBOUND_MISSES_PER_ADDRESS, default 10/s) keeps made-up
  // tokens from each costing a lookup; and on a second app with the default
  // per-address limit too (INBOUND_RATE_PER_ADDRESS=1000), which answers
  // most of the flood 429 before anything else.
  // The default INBOUND_RATE_PER_ADDRESS, as the guarded app runs with it.
  const perAddress = loadConfig({}, { operatorToken: OPERATOR }).inboundRatePerAddress
  const senders = Math.max(1, Math.ceil(half / (perAddress / 2)))
  const guardedConfig = loadConfig(
    {},
    {
      operatorToken: OPERATOR,
      logLevel: 'silent',
      inboundRatePerToken: 0,
      bootstrapWorkspace: false,
    },
  )
  const guarded = await buildApp({
    config: guardedConfig,
    db: database.db,
    pool: database.pool,
    box,
  })
  await guarded.listen({ port: 0, host: '127.0.0.1' })
  const guardedOrigin = `http://127.0.0.1:${(guarded.server.address() as { port: number }).port}`
  const floods: Record<string, LoadResult> = {}
  for (const [name, target] of [
    ['no rate limits, default miss limit', origin],
    ['default per-address limit', guardedOrigin],
  ] as const) {
    log(
      `## 3. Unknown-token flood at ${FLOOD_RATE} req/s from another address, beside valid calls at ${half}/s ` +
        `from ${senders} addresses (${LATENCY_SECONDS} s, ${name})`,
    )
    const [valid, flood] = await Promise.all([
      loadFromSenders({ ...validLoad, origin: target }, senders),
      load({
        origin: target,
        mode: 'open',
        rate: FLOOD_RATE,
        maxInFlight: 512,
        connections: CONNECTIONS,
        durationMs: LATENCY_SECONDS * 1000,
        target: 'unknown',
        path: '',
        localAddress: '127.0.0.2',
      }),
    ])
    floods[name] = valid
    log(
      `valid: p50 ${round(valid.p50, 2)} ms, p99 ${round(valid.p99, 2)} ms (${valid.completed} calls, ${JSON.stringify(valid.statuses)}); ` +
        `flood: offered ${FLOOD_RATE}/s, answered ${round(flood.completed / flood.seconds)}/s ` +
        `(${JSON.stringify(flood.statuses)}; ${flood.skipped} not sent, 512 already in flight; p99 ${round(flood.p99, 1)} ms)\n`,
    )
  }
  const flooded = floods['default per-address limit'] as LoadResult

  // What a refused call costs the server process: the flood alone, against
  // the guarded app (unknown tokens, nearly all over the address limit),
  // then a bare Fastify 404 at the same offered rate. CPU from the server
  // process's /proc/<pid>/stat (utime + stime), per answered call.
  log(`## 4. CPU per refused call (flood alone, ${FLOOD_RATE} req/s offered, ${REFUSED_SECONDS} s)`)
  const refusedRun = async (origin_: string, target: 'unknown' | 'bare', path_: string) => {
    const before = processCpuSeconds(process.pid)
    const result = await load({
      origin: origin_,
      mode: 'open',
      rate: FLOOD_RATE,
      maxInFlight: 512,
      connections: CONNECTIONS,
      durationMs: REFUSED_SECONDS * 1000,
      target,
      path: path_,
      localAddress: '127.0.0.2',
    })
    const seconds = processCpuSeconds(process.pid) - before
    return { result, usPerCall: round((seconds * 1e6) / Math.max(1, result.completed)) }
  }
  const refused = await refusedRun(guardedOrigin, 'unknown', '')
  const bare404 = await refusedRun(bareOrigin, 'bare', '/no-such-route')
  log(
    `hookline, unknown tokens: ${refused.usPerCall} µs per refused call (${refused.result.completed} answered, ` +
      `${JSON.stringify(refused.result.statuses)}); bare Fastify 404: ${bare404.usPerCall} µs per call ` +
      `(${bare404.result.completed} answered, ${JSON.stringify(bare404.result.statuses)}); ` +
      `bare 200 (section 1): ${bareCall.server} µs\n`,
  )
  await guarded.close()

  // Every 200 was recorded before it was answered: the log must hold each one.
  const { count } = await database.db
    .selectFrom('inbound_calls')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('response_status', '=', 200)
    .executeTakeFirstOrThrow()
  log(
    `call log: ${count} calls recorded as answered 200; the senders received ${answered200} answers 200`,
  )
  if (count < answered200) throw new Error('a call answered 200 is missing from the call log')

  const result = {
    accepted_cps_hookline: round(accepted),
    bare_fastify_rps: round(bareRps),
    p50_ms: round(steady.p50, 2),
    p99_ms: round(steady.p99, 2),
    flood_valid_p99_ms: round(flooded.p99, 2),
    flood_valid_p50_ms: round(flooded.p50, 2),
    cpu_us_per_rejected_call: refused.usPerCall,
    bare_cpu_us_per_404_server: bare404.usPerCall,
    rejected_to_bare_ratio: round(refused.usPerCall / Math.max(1, bareCall.server), 2),
    cpu_us_per_call_server: hooklineCall.server,
    cpu_us_per_call_postgres: hooklineCall.postgres,
    cpu_us_per_call_load: hooklineCall.load,
    bare_cpu_us_per_call_server: bareCall.server,
    bare_cpu_us_per_call_load: bareCall.load,
    // Issue 21's floor for durable calls: the same JSON POST to a bare Fastify route.
    bare_fastify_json_rps: round(bareJsonRps),
    bare_json_cpu_us_per_call_server: bareJsonCall.server,
    accepted_to_bare_json_rps_ratio: round(accepted / bareJsonRps, 3),
    durable_cpu_to_bare_json_ratio: round(
      (hooklineCall.server + hooklineCall.postgres) / Math.max(1, bareJsonCall.server),
      2,
    ),
  }
  await mkdir(new URL('./results/', import.meta.url), { recursive: true })
  await writeFile(
    new URL('./results/inbound.json', import.meta.url),
    `${JSON.stringify(result, null, 2)}\n`,
  )
  log(`\n${JSON.stringify(result)}`)
  log(
    `load average at the end: ${loadavg()
      .map((l) => round(l, 2))
      .join(' ')}`,
  )
  log(`total time ${round((Date.now() - began) / 1000)} s`)

  await bare.close()
  await app.close()
  await database.close()
  await server.stop()
  await rm(dataDir, { recursive: true, force: true })
}

/**
 * One open-loop load split over `senders` generators, each from its own
 * loopback address at rate ÷ senders; latencies merged before the
 * percentiles are taken.
 */
async function loadFromSenders(spec: LoadSpec, senders: number): Promise<LoadResult> {
  const addresses = Array.from({ length: senders }, (_, i) =>
    i === 0 ? '127.0.0.1' : `127.0.0.${i + 2}`,
  )
  const parts = await Promise.all(
    addresses.map((localAddress) =>
      load({
        ...spec,
        rate: (spec.rate ?? 1) / senders,
        connections: Math.ceil(spec.connections / senders),
        localAddress,
        keepLatencies: true,
      }),
    ),
  )
  const latencies = parts.flatMap((p) => p.latencies ?? [])
  const at = (p: number) => (latencies.length === 0 ? 0 : percentile(latencies, p))
  const statuses: Record<string, number> = {}
  for (const part of parts)
    for (const [status, n] of Object.entries(part.statuses))
      statuses[status] = (statuses[status] ?? 0) + n
  const sum = (key: 'sent' | 'skipped' | 'completed' | 'errors') =>
    parts.reduce((total, part) => total + part[key], 0)
  return {
    sent: sum('sent'),
    skipped: sum('skipped'),
    completed: sum('completed'),
    errors: sum('errors'),
    seconds: Math.max(...parts.map((p) => p.seconds)),
    cpuSeconds: parts.reduce((total, part) => total + part.cpuSeconds, 0),
    statuses,
    p50: at(50),
    p99: at(99),
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`)
  process.exit(1)
})
