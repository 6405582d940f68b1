// `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database).
import { loadConfig } from '../config.js'
import { connectDatabase } from './database.js'
import { startEmbeddedPostgres } from './embedded-postgres.js'
import { migrate } from './migrate.js'

const config = loadConfig()
const embedded = config.databaseUrl
  ? undefined
  : await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort })
const url = config.databaseUrl ?? embedded!.connectionString('hookline')
const database = connectDatabase(url, {
  max: 1,
  preparedStatements: config.databasePreparedStatements,
})
try {
  const { applied } = await migrate(database.pool)
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'nothing to apply\n')
} finally {
  await database.close()
  await embedded?.stop()
}
