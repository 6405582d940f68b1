// Logs: a representative flow through the API and the workers, with the
// app's own pino logger (its redaction, at the chattiest level) writing to a
// captured stream. The captured lines hold no API key, no signing secret, no
// Authorization value, no inbound token, no credential of any kind.
import { Writable } from 'node:stream'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'
import { SecretBox } from '../../src/security/secret-box.js'
import { createWorkers } from '../../src/workers.js'
import { createWorkspace, OPERATOR_TOKEN, operator, TEST_ENCRYPTION_KEY } from '../helpers/app.js'
import { testDatabase } from '../helpers/database.js'
import {
  createRule,
  lead,
  postEvent,
  ruleBody,
  settled,
  signingSecret,
} from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

t.test('the logs of a whole flow hold no secret', async (t) => {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      done()
    },
  })
  const log = createLogger({ logLevel: 'trace' }, sink)
  const database = await testDatabase(t)
  const config = loadConfig(
    {},
    {
      operatorToken: OPERATOR_TOKEN,
      databaseUrl: database.url,
      outboundAllowList: '127.0.0.1/32',
      workerConcurrency: 10,
      logLevel: 'trace',
    },
  )
  const box = new SecretBox(TEST_ENCRYPTION_KEY)
  const app = await buildApp({ config, db: database.db, pool: database.pool, box, logger: log })
  t.teardown(() => app.close())
  const workers = createWorkers({
    config,
    db: database.db,
    pool: database.pool,
    connectionString: database.url,
    box,
    log,
  })
  await workers.start()
  let stopped = false
  const stopWorkers = async () => {
    if (!stopped) await workers.stop(2000)
    stopped = true
  }
  t.teardown(stopWorkers)

  const secrets: string[] = [OPERATOR_TOKEN]
  // The receiver answers 500 to the first try of each request, then echoes what it got.
  const tries = new Map<string, number>()
  const receiver = await startReceiver(t, (req, res) => {
    const id = String(req.headers['webhook-id'])
    const n = (tries.get(id) ?? 0) + 1
    tries.set(id, n)
    res.writeHead(n === 1 ? 500 : 200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ echoed: req.headers }))
  })
  const ws = await createWorkspace(app)
  secrets.push(ws.key)
  const other = await createWorkspace(app, 'Other')
  secrets.push(other.key)

  // Settings: a callback, the signing secret, a rotation.
  await app.inject({
    method: 'PATCH',
    url: '/v1/settings',
    headers: ws.auth,
    payload: { crm_callback_url: `${receiver.url}/crm` },
  })
  secrets.push(await signingSecret(app, ws))
  await app.inject({
    method: 'POST',
    url: '/v1/settings/signing-secret/rotate',
    headers: ws.auth,
    payload: { overlap_seconds: 60 },
  })
  secrets.push(await signingSecret(app, ws))

  // Rules with each kind of credential, a failure first, notices on failure.
  const auths = [
    { type: 'basic', username: 'log-user', password: 'log-PASSWORD-1' },
    { type: 'bearer', token: 'log-BEARER-2' },
    { type: 'header', name: 'X-Api-Key', value: 'log-HEADER-3' },
  ]
  secrets.push('log-PASSWORD-1', 'log-BEARER-2', 'log-HEADER-3')
  secrets.push(Buffer.from('log-user:log-PASSWORD-1').toString('base64'))
  const ruleIds: string[] = []
  for (const auth of auths) {
    const rule = await createRule(
      app,
      ws,
      ruleBody(`${receiver.url}/${auth.type}`, {
        auth,
        notify_on_failure: true,
        execution: { max_attempts: 1 },
      }),
    )
    ruleIds.push(rule.id)
    // Preview and test: the request is rendered (and sent) with its credentials.
    for (const action of ['preview', 'test']) {
      await app.inject({
        method: 'POST',
        url: `/v1/rules/${rule.id}/${action}`,
        headers: ws.auth,
        payload: { record: lead({}) },
      })
    }
  }
  // Refused: credentials in a URL, a private address, a malformed key, another's key.
  const refused = await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: ws.auth,
    payload: ruleBody('https://url-user:url-PASSWORD-4@receiver.example.com/x'),
  })
  t.equal(refused.statusCode, 400)
  secrets.push('url-PASSWORD-4', 'url-user:url')
  const wrongKey = `${ws.key.slice(0, -4)}zzzz`
  secrets.push(wrongKey)
  await app.inject({ url: '/v1/rules', headers: { authorization: `Bearer ${wrongKey}` } })
  await app.inject({ url: '/v1/rules', headers: { authorization: 'Basic bm90OmFrZXk=' } })
  secrets.push('bm90OmFrZXk=')

  // Each delivery fails first (a failure notice goes to the CRM), then is resent and succeeds.
  const created = await postEvent(app, ws, 'lead.created', lead({ email: 'x@example.com' }))
  for (const id of created.deliveries) {
    await settled(app, ws, id, 'failed')
    await app.inject({ method: 'POST', url: `/v1/deliveries/${id}/resend`, headers: ws.auth })
    await settled(app, ws, id, 'succeeded')
  }

  // Inbound: handlers with secrets, calls that carry them, a token rotated.
  const handlersExist =
    (await app.inject({ url: '/v1/handlers', headers: ws.auth })).statusCode === 200
  if (handlersExist) {
    const verifications = [
      { type: 'secret_header', header: 'X-Form-Token', secret: 'log-INBOUND-HEADER-5' },
      { type: 'secret_query', param: 'key', secret: 'log-INBOUND-QUERY-6' },
      { type: 'basic', username: 'sender', password: 'log-INBOUND-BASIC-7' },
    ]
    secrets.push('log-INBOUND-HEADER-5', 'log-INBOUND-QUERY-6', 'log-INBOUND-BASIC-7')
    secrets.push(Buffer.from('sender:log-INBOUND-BASIC-7').toString('base64'))
    for (const verification of verifications) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/handlers',
        headers: ws.auth,
        payload: {
          title: verification.type,
          body_format: 'form',
          verification,
          actions: [{ type: 'run_rule', rule_id: ruleIds[0] }],
        },
      })
      t.equal(res.statusCode, 201, `handler with ${verification.type}`, { body: res.body })
      const endpoint = new URL(res.json().endpoint_url)
      secrets.push(endpoint.pathname.split('/').pop() as string)
      const good: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
      let path = endpoint.pathname
      if (verification.type === 'secret_header')
        good['x-form-token'] = verification.secret as string
      if (verification.type === 'secret_query') path += `?key=${verification.secret}`
      if (verification.type === 'basic') {
        good.authorization = `Basic ${Buffer.from(`sender:${verification.password}`).toString('base64')}`
      }
      await app.inject({ method: 'POST', url: path, headers: good, payload: 'a=1' })
      // And a call with a wrong secret, and one to a token that does not exist.
      await app.inject({
        method: 'POST',
        url: `${endpoint.pathname}?key=wrong`,
        headers: { 'x-form-token': 'wrong', authorization: 'Basic d3Jvbmc6d3Jvbmc=' },
        payload: 'a=1',
      })
      const rotated = await app.inject({
        method: 'POST',
        url: `/v1/handlers/${res.json().id}/rotate-token`,
        headers: ws.auth,
      })
      secrets.push(new URL(rotated.json().endpoint_url).pathname.split('/').pop() as string)
    }
    await app.inject({
      method: 'POST',
      url: '/in/hli_DoesNotExist0000000000000000000',
      payload: 'a=1',
    })
  }
  t.comment(`inbound handlers ${handlersExist ? 'present: in the flow' : 'absent'}`)

  // Operator: keys listed and revoked.
  await app.inject({ url: `/operator/workspaces/${ws.id}/api-keys`, headers: operator })
  await app.inject({
    method: 'DELETE',
    url: `/operator/workspaces/${other.id}/api-keys/${other.keyId}`,
    headers: operator,
  })
  await app.inject({ url: '/v1/workspace', headers: other.auth })

  await stopWorkers()
  const text = lines.join('\n')
  t.ok(lines.length > 100, `${lines.length} log lines captured`)
  t.match(text, /incoming request/, 'requests were logged')
  t.match(text, /"url":"\/in\/\[Redacted\]/, 'public endpoint URLs were masked')
  for (const secret of secrets) {
    const found = lines.filter((line) => line.includes(secret))
    t.same(found.slice(0, 2), [], `not in the logs: ${secret.slice(0, 6)}…`)
  }
  const patterns: [string, RegExp][] = [
    ['an API key', /hl_[0-9a-z]{8}_[\w-]{32}/],
    ['a whsec_ secret', /whsec_[A-Za-z0-9+/]{10,}/],
    ['an Authorization value', /(Bearer|Basic) [A-Za-z0-9+/=._~-]{6,}/],
    ['an inbound token', /hli_[\w-]{20,}/],
    ['URL credentials', /\/\/[^/\s"@:]+:[^/\s"@]+@/],
  ]
  for (const [what, pattern] of patterns) {
    const found = lines.filter((line) => pattern.test(line))
    t.same(found.slice(0, 2), [], `no ${what} anywhere`)
  }
})

t.test('secrets in a query string never reach the request log', async (t) => {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      done()
    },
  })
  const log = createLogger({ logLevel: 'info' }, sink)
  const database = await testDatabase(t)
  const config = loadConfig(
    {},
    { operatorToken: OPERATOR_TOKEN, databaseUrl: database.url, logLevel: 'info' },
  )
  const box = new SecretBox(TEST_ENCRYPTION_KEY)
  const app = await buildApp({ config, db: database.db, pool: database.pool, box, logger: log })
  t.teardown(() => app.close())
  const ws = await createWorkspace(app)

  // A key in the query is not how keys are sent (401), but a caller may try.
  const asQuery = await app.inject({ url: `/v1/workspace?api_key=${ws.key}` })
  t.equal(asQuery.statusCode, 401)
  // Under any name, and beside parameters that stay readable.
  await app.inject({ url: `/v1/rules?limit=5&k=${encodeURIComponent(ws.key)}`, headers: ws.auth })
  await app.inject({ url: '/v1/rules?access_token=tok-SECRET-1&sort=title', headers: ws.auth })
  await app.inject({ url: '/v1/rules?password=pw-SECRET-2', headers: ws.auth })
  await app.inject({ url: '/no-such-route?session=sess-SECRET-3' })

  const text = lines.join('\n')
  for (const secret of [ws.key, 'tok-SECRET-1', 'pw-SECRET-2', 'sess-SECRET-3']) {
    t.notOk(text.includes(secret), `not in the logs: ${secret.slice(0, 6)}…`)
  }
  t.notMatch(text, /hl_[0-9a-z]{8}_/, 'no API key, whole or in part')
  const urls = lines.map((line) => JSON.parse(line).req?.url).filter(Boolean)
  t.ok(
    urls.includes('/v1/workspace?api_key=[Redacted]'),
    'the parameter is named, its value masked',
  )
  t.ok(urls.includes('/v1/rules?limit=5&k=[Redacted]'), 'an hl_ key under any name is masked')
  t.ok(urls.includes('/v1/rules?access_token=[Redacted]&sort=title'), 'other parameters stay')
})
