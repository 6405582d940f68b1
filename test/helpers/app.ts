import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { type Config, loadConfig } from '../../src/config.js'
import { createMetrics, type Metrics } from '../../src/metrics.js'
import { SecretBox } from '../../src/security/secret-box.js'
import { createWorkers, JOB_KINDS } from '../../src/workers.js'
import { type TestDatabase, testDatabase } from './database.js'

export const OPERATOR_TOKEN = 'test-operator-token-0123456789'
export const operator = { authorization: `Bearer ${OPERATOR_TOKEN}` }

/** A fixed key, so a test can open what the app sealed. */
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7)

export interface TestApp {
  app: FastifyInstance
  database: TestDatabase
  config: Config
  box: SecretBox
  /** Shared by the app and the workers `startWorkers` runs, as in server.ts. */
  metrics: Metrics
}

/** The app over a database of its own, closed at the end of the test. Never listens. */
export async function build(t: Test, overrides: Partial<Config> = {}): Promise<TestApp> {
  const database = await testDatabase(t)
  const config = loadConfig(
    {},
    {
      operatorToken: OPERATOR_TOKEN,
      databaseUrl: database.url,
      // Test receivers listen on loopback, which is refused by default.
      outboundAllowList: '127.0.0.1/32',
      workerConcurrency: 10,
      ...overrides,
    },
  )
  const box = new SecretBox(TEST_ENCRYPTION_KEY)
  const metrics = createMetrics({
    pool: database.pool,
    queueKinds: JOB_KINDS,
    workspaceLabels: config.metricsWorkspaceLabels,
  })
  const app = await buildApp({ config, db: database.db, pool: database.pool, box, metrics })
  t.teardown(() => app.close())
  return { app, database, config, box, metrics }
}

/** Creates a workspace through the operator API and issues it a key. */
export async function createWorkspace(app: FastifyInstance, name = 'Acme') {
  const workspace = await app.inject({
    method: 'POST',
    url: '/operator/workspaces',
    headers: operator,
    payload: { name },
  })
  if (workspace.statusCode !== 201) throw new Error(`create workspace: ${workspace.body}`)
  const { id } = workspace.json() as { id: string }
  const key = await app.inject({
    method: 'POST',
    url: `/operator/workspaces/${id}/api-keys`,
    headers: operator,
    payload: { name: 'test' },
  })
  if (key.statusCode !== 201) throw new Error(`issue key: ${key.body}`)
  const issued = key.json() as { id: string; key: string }
  return { id, keyId: issued.id, key: issued.key, auth: { authorization: `Bearer ${issued.key}` } }
}

/** Runs the background workers (delivery sends) for a test app until the test ends. */
export async function startWorkers(t: Test, testApp: TestApp) {
  const workers = createWorkers({
    config: testApp.config,
    db: testApp.database.db,
    pool: testApp.database.pool,
    connectionString: testApp.database.url,
    box: testApp.box,
    log: silentLog,
    metrics: testApp.metrics,
  })
  await workers.start()
  t.teardown(() => workers.stop(2000))
  return workers
}

const noop = () => {}
const silentLog = process.env.HOOKLINE_TEST_LOG
  ? { debug: console.error, info: console.error, warn: console.error, error: console.error }
  : { debug: noop, info: noop, warn: noop, error: noop }
