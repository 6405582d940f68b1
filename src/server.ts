import pg from 'pg'
import { buildApp } from './app.js'
import { type Config, ConfigError, loadConfig } from './config.js'
import { connectDatabase } from './db/database.js'
import { type SupervisedPostgres, supervise } from './db/embedded/supervisor.js'
import { EmbeddedPostgresError, startEmbeddedPostgres } from './db/embedded-postgres.js'
import { migrate } from './db/migrate.js'
import { createLogger } from './logger.js'
import { createMetrics } from './metrics.js'
import { loadOrCreateKeyFile, parseEncryptionKey, SecretBox } from './security/secret-box.js'
import { createWorkers, JOB_KINDS } from './workers.js'
import { bootstrapDefaultWorkspace } from './workspaces/bootstrap.js'
import { handOverBootstrapKey } from './workspaces/welcome.js'

/** Runs the service: database, migrations, HTTP (ROLE api|all), workers (ROLE worker|all), a graceful stop. */
async function main() {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`hookline: configuration error: ${err.message}\n`)
    process.exit(1)
  }
  const log = createLogger(config)

  let cluster: SupervisedPostgres | undefined
  let databaseUrl = config.databaseUrl
  if (!databaseUrl) {
    log.info(
      { dataDir: config.dataDir, port: config.embeddedPostgresPort },
      'starting embedded PostgreSQL',
    )
    const options = {
      dataDir: config.dataDir,
      port: config.embeddedPostgresPort,
      onLog: (line: string) => log.debug({ postgres: line }),
      onNotice: (line: string) => log.warn(line),
    }
    const embedded = await startEmbeddedPostgres(options)
    cluster = supervise(
      embedded,
      () => startEmbeddedPostgres({ ...options, initialise: false }),
      log,
    )
    const started = cluster
    stopBeforeExit = () => started.stop()
    await ensureDatabase(embedded.connectionString(), 'hookline')
    databaseUrl = embedded.connectionString('hookline')
  }

  const database = connectDatabase(databaseUrl, {
    max: config.databasePoolSize,
    preparedStatements: config.databasePreparedStatements,
  })
  // History reads (DATABASE_READ_URL, a read replica) have a pool of their
  // own; a worker serves no history, so it opens none.
  const replica =
    config.databaseReadUrl && config.role !== 'worker'
      ? connectDatabase(config.databaseReadUrl, {
          max: config.databasePoolSize,
          applicationName: 'hookline-read',
          preparedStatements: config.databasePreparedStatements,
        })
      : undefined
  const { applied } = await migrate(database.pool)
  if (applied.length > 0) log.info({ applied }, 'migrations applied')

  const box = new SecretBox(
    config.encryptionKey
      ? parseEncryptionKey(config.encryptionKey)
      : await loadOrCreateKeyFile(config.dataDir),
  )
  if (!config.encryptionKey)
    log.warn({ dataDir: config.dataDir }, 'ENCRYPTION_KEY not set: using the key file in DATA_DIR')

  // One registry for the process: the app serves what its workers count.
  const metrics = createMetrics({
    pool: database.pool,
    queueKinds: JOB_KINDS,
    workspaceLabels: config.metricsWorkspaceLabels,
  })
  const app = await buildApp({
    config,
    db: database.db,
    readDb: replica?.db,
    pool: database.pool,
    box,
    logger: log,
    metrics,
    liveness: () => cluster?.problem(),
    // A worker serves only /healthz, /readyz and /metrics.
    routes: config.role === 'worker' ? 'operations' : 'all',
  })
  const workers =
    config.role === 'api'
      ? undefined
      : createWorkers({
          config,
          db: database.db,
          pool: database.pool,
          // LISTEN holds session state: behind a transaction pooler it needs a
          // direct connection of its own (DATABASE_LISTEN_URL).
          connectionString: config.databaseListenUrl ?? databaseUrl,
          box,
          log,
          metrics,
        })
  await workers?.start()

  await app.listen({ port: config.port, host: config.host }).catch((err) => {
    if (err?.code !== 'EADDRINUSE') throw err
    throw new StartupError(
      `PORT ${config.port} on ${config.host} is in use by another program (another Hookline?): stop it, or set PORT to a free port`,
    )
  })
  if (config.role !== 'worker') {
    if (config.bootstrapWorkspace) {
      const first = await bootstrapDefaultWorkspace(database.db)
      if (first) await handOverKey(config, log, first.workspace.id, first.key.key)
    }
  }

  let stoppingSince: number | undefined
  const stop = async (signal: string) => {
    if (stoppingSince !== undefined) {
      // Ctrl-C under `npm start` reaches node twice: from the terminal and
      // forwarded by npm, a moment apart. Only a later one means "now".
      if (Date.now() - stoppingSince < SAME_SIGNAL_MS) return
      log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    stoppingSince = Date.now()
    log.info({ signal }, 'shutting down')
    const deadline = setTimeout(() => {
      log.error('shutdown deadline passed: exiting')
      process.exit(1)
    }, config.shutdownTimeoutMs)
    deadline.unref()
    // Order matters: stop taking requests and let in-flight ones finish, then
    // close the pool they used, then the database itself.
    await app.close()
    await workers?.stop(Math.max(0, config.shutdownTimeoutMs - 5000))
    await replica?.close()
    await database.close()
    await cluster?.stop()
    log.info('stopped')
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}

// The key is a secret: printed on a terminal, else written to a 0600 file
// whose path (never the key) is logged.
async function handOverKey(
  config: Config,
  log: ReturnType<typeof createLogger>,
  workspaceId: string,
  key: string,
) {
  const welcome = { baseUrl: config.publicBaseUrl, workspaceId, key }
  try {
    const file = await handOverBootstrapKey(welcome, process.stdout, config.dataDir)
    if (file)
      log.warn(
        { workspaceId, file },
        'default workspace created: its API key is in this file (mode 0600); store it and delete the file',
      )
  } catch (err) {
    log.error(
      { workspaceId, err },
      'default workspace created, but its API key could not be written to DATA_DIR: issue a key through the operator API',
    )
  }
}

const SAME_SIGNAL_MS = 1500

async function ensureDatabase(adminUrl: string, name: string) {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name])
    if (!rowCount) await client.query(`create database ${client.escapeIdentifier(name)}`)
  } finally {
    await client.end()
  }
}

/** A start that cannot go on, said in one line: what is wrong and what to do. */
class StartupError extends Error {}

// Set once the embedded cluster runs, so a start that fails later stops it.
let stopBeforeExit: (() => Promise<void>) | undefined

main().catch(async (err) => {
  const oneLine = err instanceof StartupError || err instanceof EmbeddedPostgresError
  process.stderr.write(
    `hookline: failed to start: ${oneLine ? err.message : (err?.stack ?? err)}\n`,
  )
  await stopBeforeExit?.().catch(() => {})
  process.exit(1)
})
