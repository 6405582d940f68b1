import { randomBytes } from 'node:crypto'
import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { connectDatabase } from './db/database.js'
import { SecretBox } from './security/secret-box.js'

/**
 * The OpenAPI document as the code describes it. Building the app opens no
 * connection (the pool connects lazily), so this needs no database.
 */
export async function generateOpenApiDocument(): Promise<Record<string, unknown>> {
  const config = loadConfig({}, { publicBaseUrl: 'http://127.0.0.1:3000' })
  const database = connectDatabase('postgres://unused@127.0.0.1:1/unused', { max: 1 })
  const box = new SecretBox(randomBytes(32))
  const app = await buildApp({ config, db: database.db, pool: database.pool, box })
  try {
    await app.ready()
    return app.swagger() as unknown as Record<string, unknown>
  } finally {
    await app.close()
    await database.close()
  }
}

export const serializeOpenApi = (doc: unknown) => `${JSON.stringify(doc, null, 2)}\n`
