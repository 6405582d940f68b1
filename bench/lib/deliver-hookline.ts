import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { Agent, request } from 'undici'
import { freePort } from './deliver-ports.js'
import { sleep } from './deliver-receiver-client.js'
import { type LeadEvent, ruleBody } from './deliver-workload.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const OPERATOR_TOKEN = 'bench-operator-token-0123456789'

export interface HooklineOptions {
  databaseUrl: string
  workerConcurrency: number
  databasePoolSize: number
  /** Node flags for both processes besides `npm start`'s (e.g. `--cpu-prof` when profiling). */
  nodeArgs?: string[]
  /**
   * What node runs; by default `dist/server.js`, the build `npm start` and the
   * Dockerfile run (see `buildHookline`); `['--import', 'tsx', 'src/server.ts']`
   * runs the source as `npm run dev` does.
   */
  entry?: string[]
  /** More environment for both processes (e.g. WORKER_CONCURRENCY_PER_HOST). */
  env?: Record<string, string>
}

export interface HooklineProcess {
  pid: number
  stop(): Promise<void>
}

/**
 * The node flags `npm start` runs the server with (its heap limit), read from
 * package.json's start script: the words between `node` and `dist/server.js`.
 */
export function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
  const words: string[] = pkg.scripts.start.split(/\s+/)
  return words.slice(words.indexOf('node') + 1, words.indexOf('dist/server.js'))
}

/** The compiled build that `npm start` runs, made fresh by the project's own `npm run build`. */
export function buildHookline(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' })
}

/**
 * Hookline as it is deployed: the compiled server in its own process, ROLE=api
 * or ROLE=worker, configured through the environment only.
 */
export async function spawnHookline(
  role: 'api' | 'worker',
  options: HooklineOptions & { port?: number; encryptionKey: string; dataDir: string },
): Promise<HooklineProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...startFlags(),
      ...(options.nodeArgs ?? []),
      ...(options.entry ?? [path.join(root, 'dist/server.js')]),
    ],
    {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: options.databaseUrl,
        ROLE: role,
        // A benchmark posts far past a workspace's /v1 quota on purpose.
        API_RATE_PER_MINUTE: '0',
        PORT: String(options.port ?? 0),
        OPERATOR_TOKEN,
        ENCRYPTION_KEY: options.encryptionKey,
        DATA_DIR: options.dataDir,
        OUTBOUND_ALLOW_LIST: '127.0.0.1/32',
        BOOTSTRAP_WORKSPACE: 'false',
        LOG_LEVEL: 'warn',
        WORKER_CONCURRENCY: String(options.workerConcurrency),
        DATABASE_POOL_SIZE: String(options.databasePoolSize),
        ...options.env,
      },
    },
  )
  let exited = false
  const gone = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true
      if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGKILL')
        process.stderr.write(`hookline ${role} exited early (${code ?? signal})\n`)
      resolve()
    })
  })
  return {
    pid: child.pid as number,
    async stop() {
      if (exited) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      await gone
      clearTimeout(timer)
    },
  }
}

/** An API process and a worker process over one database, with a workspace, key and rule. */
export interface Hookline {
  apiUrl: string
  api: HooklineProcess
  worker: HooklineProcess | undefined
  key: string
  ruleId: string
  startWorker(): Promise<HooklineProcess>
  postBatch(events: LeadEvent[]): Promise<void>
  postOne(event: LeadEvent): Promise<{ deliveryId: string }>
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>
  stop(): Promise<void>
}

export async function startHookline(
  options: HooklineOptions & { receiverUrl: string; withWorker: boolean },
): Promise<Hookline> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-bench-data-'))
  const shared = { ...options, encryptionKey: randomBytes(32).toString('base64'), dataDir }
  const port = await freePort()
  const apiUrl = `http://127.0.0.1:${port}`
  const api = await spawnHookline('api', { ...shared, port })
  const client = new pg.Client({ connectionString: options.databaseUrl })
  // As many connections as the single-event scenario has callers: each caller its own,
  // as 50 CRM workers would have, so all 50 calls can be in flight at once.
  const agent = new Agent({ connections: 64, keepAliveTimeout: 60_000 })
  const http = async (method: 'GET' | 'POST', url: string, token: string, body?: unknown) => {
    const res = await request(`${apiUrl}${url}`, {
      method,
      dispatcher: agent,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.body.text()
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${text}`)
    return JSON.parse(text)
  }
  await waitFor(async () => {
    await request(`${apiUrl}/healthz`, { dispatcher: agent }).then((r) => r.body.dump())
  })
  await client.connect()

  const ws = await http('POST', '/operator/workspaces', OPERATOR_TOKEN, { name: 'bench' })
  const { key } = await http('POST', `/operator/workspaces/${ws.id}/api-keys`, OPERATOR_TOKEN, {
    name: 'bench',
  })
  const rule = await http('POST', '/v1/rules', key, ruleBody(options.receiverUrl))

  async function startWorker() {
    const worker = await spawnHookline('worker', shared)
    // Ready once its queue listener is connected (it claims at start, then on NOTIFY).
    await waitFor(async () => {
      const { rows } = await client.query(
        `select count(*)::int as n from pg_stat_activity
         where application_name = 'hookline-queue-listener' and datname = current_database()`,
      )
      if (rows[0].n < 1) throw new Error('worker not listening yet')
    })
    handle.worker = worker
    return worker
  }

  const handle: Hookline = {
    apiUrl,
    api,
    worker: undefined,
    key,
    ruleId: rule.id,
    startWorker,
    async postBatch(events) {
      const answer = await http('POST', '/v1/events/batch', key, { events })
      if (answer.data.length !== events.length) throw new Error('batch: wrong answer count')
    },
    async postOne(event) {
      const answer = await http('POST', '/v1/events', key, event)
      return { deliveryId: answer.deliveries[0] }
    },
    query: (text, values) => client.query(text, values),
    async stop() {
      await handle.worker?.stop()
      await api.stop()
      await client.end()
      await agent.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
  if (options.withWorker) await startWorker()
  return handle
}

async function waitFor(probe: () => Promise<void>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await probe()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await sleep(50)
    }
  }
}
