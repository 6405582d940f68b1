import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { isAlive } from '../../src/db/embedded/process-identity.js'
import { eventually } from '../helpers/receiver.js'

/**
 * Hookline as a newcomer runs it: its own embedded PostgreSQL in DATA_DIR
 * (no DATABASE_URL), on ports of its own, as a real process that the test
 * signals and kills.
 */

export const root = fileURLToPath(new URL('../..', import.meta.url))

export interface Place {
  dataDir: string
  pgPort: number
  port: number
}

/** A DATA_DIR and two free ports; the folder and any cluster in it go at the end. */
export async function place(t: Test): Promise<Place> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-life-'))
  t.teardown(async () => {
    const pid = postmasterPid(dataDir)
    if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL')
    await rm(dataDir, { recursive: true, force: true })
  })
  return { dataDir, pgPort: await freePort(), port: await freePort() }
}

export interface Running {
  child: ChildProcess
  lines: string[]
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>
}

/** Runs `command` (default: node with tsx on src/server.ts) on `where`, killed at the end. */
export function run(
  t: Test,
  where: Place,
  options: { command?: string[]; env?: Record<string, string>; detached?: boolean } = {},
): Running {
  const [file, ...args] = options.command ?? [
    process.execPath,
    '--import',
    'tsx',
    path.join(root, 'src/server.ts'),
  ]
  const child = spawn(file as string, args, {
    cwd: root,
    detached: options.detached ?? false,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATA_DIR: where.dataDir,
      EMBEDDED_PG_PORT: String(where.pgPort),
      PORT: String(where.port),
      BOOTSTRAP_WORKSPACE: 'false',
      LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  let rest = ''
  const onData = (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split('\n')
    rest = parts.pop() ?? ''
    lines.push(...parts)
    if (process.env.HOOKLINE_TEST_LOG)
      for (const l of parts) process.stderr.write(`[${child.pid}] ${l}\n`)
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  let alive = true
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      alive = false
      resolve({ code, signal })
    }),
  )
  t.teardown(async () => {
    if (alive) {
      if (options.detached) process.kill(-(child.pid as number), 'SIGKILL')
      else child.kill('SIGKILL')
    }
    await exited
  })
  return {
    child,
    lines,
    exited,
    waitForLine: async (pattern, timeoutMs = 180_000) =>
      (await eventually(() => lines.find((l) => pattern.test(l)), timeoutMs)) as string,
  }
}

/** /readyz's status code, or 0 when nothing answers. */
export async function readyz(where: Place, pathname = '/readyz'): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${where.port}${pathname}`).catch(() => undefined)
  return res?.status ?? 0
}

export const untilReady = (where: Place) =>
  eventually(async () => (await readyz(where)) === 200, 180_000)

/** The pid in the cluster's lock file, while there is one. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    return Number(readFileSync(path.join(dataDir, 'pg/postmaster.pid'), 'utf8').split('\n')[0])
  } catch {
    return undefined
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
