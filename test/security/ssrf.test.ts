// SSRF: with an empty allow list, no rule reaches loopback, private,
// link-local, CGNAT, metadata or IPv4-in-IPv6 addresses, neither when saved
// nor when sent through the real undici connection; a loopback listener never
// sees a byte. Redirects are not followed.
import { createServer as createHttpServer } from 'node:http'
import { createServer, type Server } from 'node:net'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { createRule, lead, postEvent, ruleBody, settled } from '../helpers/outbound.js'
import { assertError } from './helpers.js'

/** Every host form that must be refused, as it goes into a URL. */
const forms = [
  '127.0.0.1',
  '127.1',
  '2130706433',
  '0177.0.0.1',
  '0x7f.1',
  '0x7f000001',
  '[::1]',
  '[::ffff:127.0.0.1]',
  '[::ffff:7f00:1]',
  '[::ffff:a9fe:a9fe]',
  '169.254.169.254',
  '0.0.0.0',
  '0',
  '[::]',
  '10.0.0.1',
  '10.255.255.254',
  '172.16.0.1',
  '172.31.255.254',
  '192.168.0.1',
  '100.64.0.1',
  '100.127.255.254',
  '[fc00::1]',
  '[fd12:3456::1]',
  '[fe80::1]',
  '[64:ff9b::7f00:1]',
  '[64:ff9b::a9fe:a9fe]',
  '[2002:7f00:1::]',
  '[::127.0.0.1]',
  'localhost',
  'localhost.',
  'LOCALHOST',
  'api.localhost',
  'api.localhost.',
]

/** TCP listeners on the loopback addresses; they count every connection and byte. */
async function loopbackListeners(t: Test, port: number) {
  let connections = 0
  let bytes = 0
  const servers: Server[] = []
  for (const host of ['127.0.0.1', '::1']) {
    const server = createServer((socket) => {
      connections++
      socket.on('data', (chunk) => {
        bytes += chunk.length
      })
      socket.on('error', () => {})
    })
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false))
      server.listen(port, host, () => resolve(true))
    })
    if (listening) servers.push(server)
  }
  t.teardown(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))))
  return { seen: () => ({ connections, bytes }) }
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

// One database for the file, seen by three apps that differ only in their
// allow list: empty (the subject), everything (to save rules the empty list
// would refuse, as if saved before the operator emptied it), and loopback
// only (for the redirect test's own receiver).
const strict = await build(t, { outboundAllowList: '' })
const appWith = async (outboundAllowList: string) => {
  const config = loadConfig({}, { ...strict.config, outboundAllowList })
  const app = await buildApp({
    ...strict,
    db: strict.database.db,
    pool: strict.database.pool,
    config,
  })
  t.teardown(() => app.close())
  return app
}
const permissive = await appWith('0.0.0.0/0, ::/0')

t.test('refused when a rule is saved', async (t) => {
  const { app, database } = strict
  const ws = await createWorkspace(app)
  for (const host of forms) {
    const url = `http://${host}:8080/hook`
    const res = await app.inject({
      method: 'POST',
      url: '/v1/rules',
      headers: ws.auth,
      payload: ruleBody(url),
    })
    assertError(t, res, 400, /^body\/request\/url: .*(may not reach|not allowed)/, host)
  }
  const { rows } = await database.pool.query('select id from rules where workspace_id = $1', [
    ws.id,
  ])
  t.same(rows, [], 'no rule was saved')
})

t.test('the CRM callback and lookup URLs are refused when saved, as rule URLs are', async (t) => {
  const { app } = strict
  const ws = await createWorkspace(app)
  const before = await app.inject({ url: '/v1/settings', headers: ws.auth })
  for (const field of ['crm_callback_url', 'crm_lookup_url']) {
    for (const host of forms) {
      const res = await app.inject({
        method: 'PATCH',
        url: '/v1/settings',
        headers: ws.auth,
        payload: { [field]: `http://${host}:8080/crm` },
      })
      assertError(t, res, 400, new RegExp(`^body/${field}: .*(may not reach|not allowed)`), host)
    }
    const credentials = await app.inject({
      method: 'PATCH',
      url: '/v1/settings',
      headers: ws.auth,
      payload: { [field]: 'https://user:pw@crm.example.com/x' },
    })
    assertError(t, credentials, 400, new RegExp(`^body/${field}: credentials`), 'credentials')
  }
  const after = await app.inject({ url: '/v1/settings', headers: ws.auth })
  t.same(after.json(), before.json(), 'nothing was saved')

  // A public name is checked when sending (it may resolve anywhere later);
  // an address the operator allows is saved.
  const named = await app.inject({
    method: 'PATCH',
    url: '/v1/settings',
    headers: ws.auth,
    payload: { crm_callback_url: 'https://crm.example.com/hookline', crm_lookup_url: null },
  })
  t.equal(named.statusCode, 200, named.body)
  const loopback = await appWith('127.0.0.1/32')
  const allowed = await loopback.inject({
    method: 'PATCH',
    url: '/v1/settings',
    headers: ws.auth,
    payload: { crm_callback_url: 'http://127.0.0.1:9/crm', crm_lookup_url: 'http://127.0.0.1:9/l' },
  })
  t.equal(allowed.statusCode, 200, `allowed by OUTBOUND_ALLOW_LIST: ${allowed.body}`)
})

t.test('refused when sent: templated hosts and rules saved under another allow list', async (t) => {
  const port = await freePort()
  const listeners = await loopbackListeners(t, port)
  const ws = await createWorkspace(permissive)
  const fast = { execution: { timeout_ms: 1000, max_attempts: 1 } }

  const templated = await createRule(
    strict.app,
    ws,
    ruleBody(`http://{{lead.host}}:${port}/hook`, fast),
  )
  const tried: string[] = []
  for (const host of forms) {
    const literal = await createRule(permissive, ws, ruleBody(`http://${host}:${port}/x`, fast))
    const ruleIds = host.startsWith('[') ? [literal.id] : [literal.id, templated.id]
    for (const id of ruleIds) {
      const res = await strict.app.inject({
        method: 'POST',
        url: `/v1/rules/${id}/test`,
        headers: ws.auth,
        payload: { record: lead({ host }) },
      })
      tried.push(host)
      if (res.statusCode === 400) {
        // The templated URL did not make a URL at all: refused before any connection.
        assertError(t, res, 400, /url/i, `${host} (templated)`)
        continue
      }
      t.equal(res.statusCode, 200, `${host}: ${res.body.slice(0, 200)}`)
      const { response } = res.json<{ response: { status: number | null; error: string } }>()
      t.equal(response.status, null, `${host}: no answer`)
      // *.localhost resolves to loopback only where the resolver says so (systemd-resolved).
      const refused = /^(api\.)?localhost\.?$/i.test(host)
        ? /not allowed|refusing|ENOTFOUND/
        : /not allowed|refusing/
      t.match(response.error, refused, `${host}: refused by the policy, not timed out`)
    }
  }
  t.ok(tried.length > forms.length, 'every form, literal and templated')
  t.same(listeners.seen(), { connections: 0, bytes: 0 }, 'the loopback listeners never saw a byte')
})

t.test('refused by the background worker too', async (t) => {
  const port = await freePort()
  const listeners = await loopbackListeners(t, port)
  await startWorkers(t, strict)
  const ws = await createWorkspace(strict.app)
  await createRule(
    strict.app,
    ws,
    ruleBody(`http://{{lead.host}}:${port}/hook`, { execution: { max_attempts: 1 } }),
  )
  const testApp = strict
  const answer = await postEvent(testApp.app, ws, 'lead.created', lead({ host: '127.1' }))
  const delivery = await settled(testApp.app, ws, answer.deliveries[0]!)
  t.match(delivery, { status: 'failed', last_error: /not allowed|refusing/ })
  t.same(listeners.seen(), { connections: 0, bytes: 0 })
})

t.test('a redirect to the metadata address is not followed', async (t) => {
  const port = await freePort()
  const listeners = await loopbackListeners(t, port)
  const redirector = createHttpServer((req, res) => {
    const to =
      req.url === '/meta'
        ? 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'
        : `http://127.0.0.1:${port}/internal`
    res.writeHead(302, { location: to }).end()
  })
  await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((r) => redirector.close(r)))
  const { port: redirectorPort } = redirector.address() as { port: number }
  // Only the redirector's own address is allowed.
  const app = await appWith('127.0.0.1/32')
  const ws = await createWorkspace(app)
  for (const path of ['/meta', '/loop']) {
    const rule = await createRule(app, ws, ruleBody(`http://127.0.0.1:${redirectorPort}${path}`))
    const res = await app.inject({
      method: 'POST',
      url: `/v1/rules/${rule.id}/execute`,
      headers: ws.auth,
      payload: { record: lead({}), mode: 'inline' },
    })
    t.equal(res.statusCode, 200, res.body.slice(0, 300))
    t.match(
      res.json(),
      { delivery: { status: /queued|failed/, response_status: 302 } },
      `${path}: the 302 is the answer; it is not followed`,
    )
  }
  t.same(listeners.seen(), { connections: 0, bytes: 0 }, 'the redirect target saw nothing')
})
