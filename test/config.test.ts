import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'
import { createLogger } from '../src/logger.js'

t.test('defaults make a working config', async (t) => {
  const config = loadConfig({})
  t.match(config, { port: 3000, host: '127.0.0.1', role: 'all', dataDir: './data' })
  t.equal(config.publicBaseUrl, 'http://127.0.0.1:3000')
  t.ok(Object.isFrozen(config))
})

t.test('environment values are parsed and checked', async (t) => {
  const config = loadConfig({ PORT: '8080', ROLE: 'worker', BOOTSTRAP_WORKSPACE: 'false' })
  t.match(config, { port: 8080, role: 'worker', bootstrapWorkspace: false })
})

t.test('a bad variable fails fast and is named', async (t) => {
  t.throws(
    () => loadConfig({ PORT: 'eighty' }),
    new ConfigError('PORT: expected a whole number, got "eighty"'),
  )
  t.throws(() => loadConfig({ ROLE: 'everything' }), { name: 'ConfigError', message: /^ROLE:/ })
  t.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), { message: /^DATABASE_URL:/ })
  t.throws(() => loadConfig({ OPERATOR_TOKEN: 'short' }), { message: /^OPERATOR_TOKEN:/ })
  t.throws(() => loadConfig({ PORT: '70000' }), { message: /^PORT:/ })
})

t.test('the per-host cap defaults to a third of the worker’s sends', async (t) => {
  t.equal(loadConfig({}).workerConcurrencyPerHost, 16, 'a third of 50')
  t.equal(loadConfig({ WORKER_CONCURRENCY: '10' }).workerConcurrencyPerHost, 3)
  t.equal(loadConfig({ WORKER_CONCURRENCY: '2' }).workerConcurrencyPerHost, 1, 'never none')
  t.equal(
    loadConfig({ WORKER_CONCURRENCY: '10', WORKER_CONCURRENCY_PER_HOST: '8' })
      .workerConcurrencyPerHost,
    8,
  )
  t.throws(() => loadConfig({ WORKER_CONCURRENCY_PER_HOST: '0' }), {
    message: /^WORKER_CONCURRENCY_PER_HOST:/,
  })
  t.throws(() => loadConfig({ WORKER_CONCURRENCY_PER_HOST: 'many' }), {
    message: /^WORKER_CONCURRENCY_PER_HOST:/,
  })
})

t.test('DATABASE_READ_URL is optional, checked, and never logged', async (t) => {
  t.equal(loadConfig({}).databaseReadUrl, undefined, 'unset: history reads use DATABASE_URL')
  const url = 'postgres://reader:s3cret@replica.internal:5432/hookline'
  t.equal(loadConfig({ DATABASE_READ_URL: url }).databaseReadUrl, url)
  t.throws(() => loadConfig({ DATABASE_READ_URL: 'replica.internal' }), {
    message: /^DATABASE_READ_URL:/,
  })
  let written = ''
  const log = createLogger({ logLevel: 'info' }, { write: (line: string) => (written += line) })
  log.info({ config: loadConfig({ DATABASE_READ_URL: url }) }, 'config')
  t.notMatch(written, /s3cret/, 'the replica’s password is not in the log')
  t.match(written, /"databaseReadUrl":"\[Redacted\]"/)
})
