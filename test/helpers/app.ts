import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { type Config, loadConfig } from '../../src/config.js'
import { type TestDatabase, testDatabase } from './database.js'

export const OPERATOR_TOKEN = 'test-operator-token-0123456789'
export const operator = { authorization: `Bearer ${OPERATOR_TOKEN}` }

export interface TestApp {
  app: FastifyInstance
  database: TestDatabase
  config: Config
}

/** The app over a database of its own, closed at the end of the test. Never listens. */
export async function build(t: Test, overrides: Partial<Config> = {}): Promise<TestApp> {
  const database = await testDatabase(t)
  const config = loadConfig(
    {},
    { operatorToken: OPERATOR_TOKEN, databaseUrl: database.url, ...overrides },
  )
  const app = await buildApp({ config, db: database.db, pool: database.pool })
  t.teardown(() => app.close())
  return { app, database, config }
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
