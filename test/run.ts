/**
 * `npm test`: one PostgreSQL for the whole run, one migrated template
 * database, then tap. Each test file clones the template into a database of
 * its own (test/helpers/database.ts), so files run in parallel.
 *
 * Uses TEST_DATABASE_URL (or DATABASE_URL) when set — the role needs CREATEDB —
 * and otherwise starts the embedded PostgreSQL in a temporary folder.
 * Arguments pass through to tap: `npm test -- test/api/workspaces.test.ts`.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/db/embedded-postgres.js'
import { migrate } from '../src/db/migrate.js'

const template = `hookline_template_${process.pid}`

// Until the run has finished and said otherwise, any way out is a failure: a
// promise that never settles empties the event loop, and Node then exits with
// process.exitCode, not 0.
process.exitCode = 1

async function main(): Promise<number> {
  let databaseDied: string | undefined
  let stopping = false
  let embedded: EmbeddedPostgres | undefined
  let dataDir: string | undefined
  let adminUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL
  if (!adminUrl) {
    dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-test-'))
    embedded = await startEmbeddedPostgres({
      dataDir,
      port: await freePort(),
      // A throwaway cluster: durability buys nothing here and costs seconds.
      settings: {
        fsync: 'off',
        synchronous_commit: 'off',
        full_page_writes: 'off',
        max_connections: 300,
        shared_buffers: '256MB',
      },
    })
    adminUrl = embedded.connectionString('postgres')
    embedded.exited.then(({ code, signal }) => {
      if (stopping) return
      databaseDied = `the test run's PostgreSQL stopped during the run (${signal ? `signal ${signal}` : `exit code ${code}`}): every result after that is suspect`
      process.stderr.write(`\n${databaseDied}\n`)
    })
  }
  try {
    await createTemplate(adminUrl)
    const code = await runTap(adminUrl)
    if (databaseDied) {
      // Said again after tap's summary, where a reader looks.
      process.stderr.write(`\ntest run failed: ${databaseDied}\n`)
      return code || 1
    }
    return code
  } finally {
    stopping = true
    if (!databaseDied) await dropDatabase(adminUrl, template).catch(() => {})
    await embedded?.stop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  }
}

async function createTemplate(adminUrl: string) {
  await dropDatabase(adminUrl, template)
  await query(adminUrl, `create database ${template}`)
  const pool = new pg.Pool({ connectionString: withDatabase(adminUrl, template), max: 1 })
  try {
    await migrate(pool)
  } finally {
    await pool.end()
  }
}

function runTap(adminUrl: string): Promise<number> {
  const tap = path.resolve('node_modules/.bin/tap')
  const child = spawn(tap, process.argv.slice(2), {
    stdio: 'inherit',
    env: { ...process.env, HOOKLINE_TEST_ADMIN_URL: adminUrl, HOOKLINE_TEST_TEMPLATE: template },
  })
  const forward = (signal: NodeJS.Signals) => child.kill(signal)
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)))
}

async function query(url: string, sql: string) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

const dropDatabase = (adminUrl: string, name: string) =>
  query(adminUrl, `drop database if exists ${name} with (force)`)

export function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`test run failed to start: ${err?.stack ?? err}\n`)
    process.exit(1)
  },
)
