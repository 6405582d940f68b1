import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import { connectDatabase, type DatabaseHandle } from '../../src/db/database.js'

export interface TestDatabase extends DatabaseHandle {
  url: string
  name: string
}

function env(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set: run tests with \`npm test\``)
  return value
}

/**
 * A fresh database cloned from the migrated template, dropped when the test
 * ends. Cloning takes tens of milliseconds, so every test file (or test) can
 * have its own and none shares mutable state.
 */
export async function testDatabase(t: Test, options: { max?: number } = {}): Promise<TestDatabase> {
  const adminUrl = env('HOOKLINE_TEST_ADMIN_URL')
  const template = env('HOOKLINE_TEST_TEMPLATE')
  const name = `hookline_t_${randomBytes(6).toString('hex')}`
  await adminQuery(adminUrl, `create database ${name} template ${template}`)
  const url = urlFor(adminUrl, name)
  const handle = connectDatabase(url, { max: options.max ?? 5, applicationName: 'hookline-test' })
  t.teardown(async () => {
    await handle.close()
    await adminQuery(adminUrl, `drop database if exists ${name} with (force)`)
  })
  return { ...handle, url, name }
}

/** An empty database (no migrations), for testing the migrator itself. */
export async function emptyDatabase(t: Test): Promise<{ url: string; pool: pg.Pool }> {
  const adminUrl = env('HOOKLINE_TEST_ADMIN_URL')
  const name = `hookline_e_${randomBytes(6).toString('hex')}`
  await adminQuery(adminUrl, `create database ${name}`)
  const url = urlFor(adminUrl, name)
  const pool = quietPool(url)
  t.teardown(async () => {
    await pool.end()
    await adminQuery(adminUrl, `drop database if exists ${name} with (force)`)
  })
  return { url, pool }
}

/**
 * A pool for a database the test drops when it ends: `pool.end()` resolves
 * before its clients' sockets close, so `drop … with (force)` may still
 * terminate one, and an idle client's error with no listener is an uncaught
 * exception. That one error is expected; a query's errors still reach its caller.
 */
export function quietPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 5 })
  pool.on('error', () => {})
  return pool
}

function urlFor(adminUrl: string, database: string) {
  const u = new URL(adminUrl)
  u.pathname = `/${database}`
  return u.toString()
}

async function adminQuery(url: string, sql: string) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}
