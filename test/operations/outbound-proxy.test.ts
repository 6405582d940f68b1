import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { createHttpSender } from '../../src/net/http-sender.js'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { createRule, lead, postEvent, ruleBody, settled } from '../helpers/outbound.js'
import { startProxy } from '../helpers/proxy.js'
import { startReceiver } from '../helpers/receiver.js'

const post = (url: string) => ({
  method: 'POST',
  url,
  headers: { 'content-type': 'application/json' },
  body: '{"ok":1}',
})

t.test('with OUTBOUND_PROXY_URL, deliveries leave through the proxy', async (t) => {
  const proxy = await startProxy(t)
  const testApp = await build(t, { outboundProxyUrl: proxy.url })
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${receiver.url}/hook?x=1`))
  const sent = await postEvent(app, ws, 'lead.created', lead({ name: 'Ada' }))
  const delivery = await settled(app, ws, sent.deliveries[0]!)
  t.equal(delivery.status, 'succeeded', delivery.last_error ?? '')
  t.same(proxy.forwarded, [{ method: 'POST', url: `${receiver.url}/hook?x=1` }])
  t.equal(receiver.received[0]?.url, '/hook?x=1')
  t.ok(receiver.received[0]?.headers['webhook-signature'], 'signed as usual')
})

t.test('the SSRF policy applies to the destination, not to the proxy', async (t) => {
  const proxy = await startProxy(t)
  const receiver = await startReceiver(t)
  const port = new URL(receiver.url).port
  // Nothing private allowed; the proxy itself is on loopback and still usable.
  const sender = createHttpSender({ allowList: '', responseBodyLimit: 1024, proxyUrl: proxy.url })
  t.teardown(() => sender.close())

  const byName = await sender.send(post(`http://localhost:${port}/`), { timeoutMs: 5000 })
  t.equal(byName.status, null)
  t.match(byName.error, /refusing to connect to localhost \(127\.0\.0\.1\): a loopback address/)
  const byAddress = await sender.send(post(`http://127.0.0.1:${port}/`), { timeoutMs: 5000 })
  t.match(byAddress.error, /127\.0\.0\.1 is not allowed/)
  const tunnelled = await sender.send(post(`https://localhost:${port}/`), { timeoutMs: 5000 })
  t.match(tunnelled.error, /loopback/)
  const mapped = await sender.send(post(`http://[::ffff:127.0.0.1]:${port}/`), { timeoutMs: 5000 })
  t.equal(mapped.status, null, 'IPv4-mapped loopback is refused too')

  t.same(proxy.forwarded, [], 'nothing reached the proxy')
  t.same(proxy.tunnels, [])
  t.equal(receiver.received.length, 0)
})

t.test('HTTPS destinations are tunnelled with CONNECT once their addresses pass', async (t) => {
  const proxy = await startProxy(t)
  const receiver = await startReceiver(t)
  const port = new URL(receiver.url).port
  const sender = createHttpSender({
    allowList: '127.0.0.1/32',
    responseBodyLimit: 1024,
    proxyUrl: proxy.url,
  })
  t.teardown(() => sender.close())

  const plain = await sender.send(post(`http://localhost:${port}/plain`), { timeoutMs: 5000 })
  t.equal(plain.status, 200, plain.error ?? '')
  t.same(proxy.forwarded, [{ method: 'POST', url: `http://localhost:${port}/plain` }])

  // The tunnel reaches the test receiver, which speaks plain HTTP, so the TLS
  // handshake fails: what matters is the CONNECT the proxy was asked for.
  const secure = await sender.send(post(`https://localhost:${port}/`), { timeoutMs: 5000 })
  t.same(proxy.tunnels, [`localhost:${port}`])
  t.equal(secure.status, null)
  t.ok(secure.error)
})

t.test('OUTBOUND_PROXY_URL must be an http(s) URL of the proxy', async (t) => {
  t.equal(
    loadConfig({ OUTBOUND_PROXY_URL: 'http://user:pass@proxy.internal:3128' }).outboundProxyUrl,
    'http://user:pass@proxy.internal:3128',
  )
  t.throws(() => loadConfig({ OUTBOUND_PROXY_URL: 'socks5://proxy:1080' }), {
    name: 'ConfigError',
    message: /^OUTBOUND_PROXY_URL:/,
  })
  t.throws(() => loadConfig({ OUTBOUND_PROXY_URL: 'http://proxy:3128/path' }), {
    message: /^OUTBOUND_PROXY_URL:/,
  })
})
