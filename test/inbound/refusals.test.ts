// What the public endpoint refuses before any lookup (a token of the wrong
// shape, a token known to name nothing, an address or token over its rate)
// is answered over a real socket exactly as the route answers it, counted
// in the request metrics, and costs no log line: a flood writes nothing.
import { Writable } from 'node:stream'
import t from 'tap'
import { Pool } from 'undici'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'
import { createMetrics } from '../../src/metrics.js'
import { SecretBox } from '../../src/security/secret-box.js'
import { JOB_KINDS } from '../../src/workers.js'
import { createWorkspace, OPERATOR_TOKEN, TEST_ENCRYPTION_KEY } from '../helpers/app.js'
import { testDatabase } from '../helpers/database.js'

t.test('refusals over a socket: the route’s answers, counted, not logged', async (t) => {
  const lines: { msg?: string; res?: { statusCode?: number } }[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  const database = await testDatabase(t)
  const config = loadConfig(
    {},
    {
      operatorToken: OPERATOR_TOKEN,
      databaseUrl: database.url,
      logLevel: 'info',
      inboundMissesPerAddress: 2,
      inboundRatePerToken: 3,
    },
  )
  const metrics = createMetrics({ pool: database.pool, queueKinds: JOB_KINDS })
  const app = await buildApp({
    config,
    db: database.db,
    pool: database.pool,
    box: new SecretBox(TEST_ENCRYPTION_KEY),
    logger: createLogger(config, sink),
    metrics,
  })
  t.teardown(() => app.close())
  const ws = await createWorkspace(app)
  const created = await app.inject({
    method: 'POST',
    url: '/v1/handlers',
    headers: ws.auth,
    payload: { title: 'Leads', parameters: [], mapping: [] },
  })
  t.equal(created.statusCode, 201, created.body)
  const path = new URL(created.json<{ endpoint_url: string }>().endpoint_url).pathname
  await app.listen({ port: 0, host: '127.0.0.1' })
  const pool = new Pool(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`)
  t.teardown(() => pool.close())
  const post = async (url: string, body = '{}') => {
    const res = await pool.request({
      method: 'POST',
      path: url,
      headers: { 'content-type': 'application/json' },
      body,
    })
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
  }

  // The handler is known here before the flood: its calls still answer.
  t.equal((await post(path)).status, 200)
  lines.length = 0

  const malformed = await Promise.all(Array.from({ length: 10 }, (_, i) => post(`/in/nope-${i}`)))
  for (const res of malformed) {
    t.equal(res.status, 404)
    t.same(JSON.parse(res.body), {
      statusCode: 404,
      code: 'not_found',
      error: 'Not Found',
      message: 'no such endpoint',
    })
    t.match(res.headers['content-type'], /^application\/json/)
    t.ok(res.headers['x-request-id'])
  }
  // Made-up tokens: the first few are looked up (404), the rest refused at once.
  const unknown = []
  for (let i = 0; i < 20; i++) unknown.push(await post(`/in/hli_${String(i).padStart(32, 'x')}`))
  const lookedUp = unknown.filter((res) => res.status === 404).length
  const refused = unknown.filter((res) => res.status === 429)
  t.ok(lookedUp >= 1 && lookedUp <= 4, `${lookedUp} lookups`)
  t.equal(refused.length + lookedUp, 20)
  for (const res of refused) {
    const body = JSON.parse(res.body)
    t.match(body, { statusCode: 429, code: 'rate_limited', error: 'Too Many Requests' })
    t.equal(body.message, `slow down; retry in ${res.headers['retry-after']} s`)
  }
  // A large body sent to a refused call is not read: the connection ends instead.
  const big = await post(`/in/nope-big`, `{"a":"${'x'.repeat(200_000)}"}`)
  t.equal(big.status, 404)
  t.equal(big.headers.connection, 'close')
  // The known handler still answers from this address, up to its token's rate.
  const valid = await Promise.all(Array.from({ length: 12 }, () => post(path)))
  t.ok(valid.some((res) => res.status === 200))
  t.ok(valid.some((res) => res.status === 429))

  // No line for the refusals; the lookups and the handler's calls are the route's to log.
  const logged429 = lines.filter((l) => l.msg === 'request completed' && l.res?.statusCode === 429)
  const logged404 = lines.filter((l) => l.msg === 'request completed' && l.res?.statusCode === 404)
  t.equal(logged429.length, 0, 'no refusal logged')
  t.equal(logged404.length, lookedUp, 'only the lookups that found nothing')

  // Counted as the route's own answers are.
  const counted = (await metrics.httpRequestDuration.get()).values.filter(
    (v) =>
      v.metricName === 'hookline_http_request_duration_seconds_count' &&
      v.labels.route === '/in/:token' &&
      v.labels.method === 'POST',
  )
  const count = (status: string) =>
    counted.filter((v) => v.labels.status === status).reduce((n, v) => n + v.value, 0)
  t.equal(count('404'), 10 + lookedUp + 1)
  t.equal(count('429'), refused.length + valid.filter((res) => res.status === 429).length)
})
