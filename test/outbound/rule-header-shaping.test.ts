// Headers a rule may not set: those that steer routing or framing. Refused
// when a rule is saved (create and PATCH, as a header or as the custom auth
// header); a rule stored before the check is sent without them, directly and
// through OUTBOUND_PROXY_URL, and the request arrives whole.
import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import {
  createRule,
  type DeliveryJson,
  lead,
  postEvent,
  ruleBody,
  settled,
} from '../helpers/outbound.js'
import { startProxy } from '../helpers/proxy.js'
import { startReceiver } from '../helpers/receiver.js'
import { assertError } from '../security/helpers.js'

const forbidden = [
  'Host',
  'Connection',
  'Content-Length',
  'Transfer-Encoding',
  'TE',
  'Upgrade',
  'Keep-Alive',
  'Proxy-Authorization',
  'Proxy-Connection',
  'proxy-anything',
]

t.test('a rule may not set routing or framing headers', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const url = 'https://receiver.example.com/hook'
  for (const name of forbidden) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/rules',
      headers: ws.auth,
      payload: ruleBody(url, {
        request: {
          method: 'POST',
          url,
          body_format: 'json',
          headers: [
            { name: 'X-Fine', value: '1' },
            { name, value: 'x' },
          ],
        },
      }),
    })
    assertError(t, res, 400, new RegExp(`^body/request/headers/1/name: ${name} `), name)
    const auth = await app.inject({
      method: 'POST',
      url: '/v1/rules',
      headers: ws.auth,
      payload: ruleBody(url, { auth: { type: 'header', name, value: 'secret' } }),
    })
    assertError(t, auth, 400, new RegExp(`^body/auth/name: ${name} `), `${name} as auth`)
  }
  const rule = await createRule(app, ws, ruleBody(url))
  const patch = await app.inject({
    method: 'PATCH',
    url: `/v1/rules/${rule.id}`,
    headers: ws.auth,
    payload: {
      request: {
        method: 'POST',
        url,
        body_format: 'json',
        headers: [{ name: 'Host', value: 'x' }],
      },
    },
  })
  assertError(t, patch, 400, /^body\/request\/headers\/0\/name: Host /, 'PATCH')
  const patchAuth = await app.inject({
    method: 'PATCH',
    url: `/v1/rules/${rule.id}`,
    headers: ws.auth,
    payload: { auth: { type: 'header', name: 'Proxy-Authorization', value: 'x' } },
  })
  assertError(t, patchAuth, 400, /^body\/auth\/name: Proxy-Authorization /, 'PATCH auth')
  const list = await app.inject({ url: '/v1/rules', headers: ws.auth })
  t.equal(list.json().data.length, 1, 'only the plain rule was saved')
})

t.test('a stored rule with such headers still sends, without them', async (t) => {
  for (const viaProxy of [false, true]) {
    const proxy = await startProxy(t)
    const testApp = await build(t, viaProxy ? { outboundProxyUrl: proxy.url } : {})
    const { app, database } = testApp
    await startWorkers(t, testApp)
    const receiver = await startReceiver(t)
    const ws = await createWorkspace(app)
    const label = viaProxy ? 'through the proxy' : 'direct'
    const rules = []
    for (const mode of ['inline', 'background']) {
      rules.push(
        await createRule(
          app,
          ws,
          ruleBody(`${receiver.url}/${mode}`, { execution: { mode, max_attempts: 1 } }),
        ),
      )
    }
    // As saved before the check existed.
    const headers = [
      { name: 'X-Kept', value: 'kept' },
      { name: 'Host', value: 'evil.example' },
      { name: 'Proxy-Authorization', value: 'Basic c3RlYWw6bWU=' },
      { name: 'Content-Length', value: '3' },
      { name: 'Transfer-Encoding', value: 'chunked' },
      { name: 'Connection', value: 'close' },
      { name: 'Upgrade', value: 'websocket' },
      { name: 'Keep-Alive', value: 'timeout=1' },
      { name: 'TE', value: 'trailers' },
    ]
    for (const rule of rules) {
      await database.pool.query(
        `update rules set request = jsonb_set(request, '{headers}', $2::jsonb) where id = $1`,
        [rule.id, JSON.stringify(headers)],
      )
    }

    const test = await app.inject({
      method: 'POST',
      url: `/v1/rules/${rules[0]!.id}/test`,
      headers: ws.auth,
      payload: { record: lead({ name: 'Ada' }) },
    })
    t.equal(test.statusCode, 200, `${label}: test answers 200 ${test.body.slice(0, 300)}`)
    t.equal(test.json().response.status, 200, `${label}: the test request arrived`)
    t.notOk(
      Object.keys(test.json().request.headers).some((h) => /^(host|proxy-|content-length)/.test(h)),
      `${label}: the request shown holds none of them ${Object.keys(test.json().request.headers)}`,
    )

    const sent = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: ws.auth,
      payload: { type: 'lead.created', record: lead({ name: 'Ada' }) },
    })
    t.equal(sent.statusCode, 202, sent.body)
    const answer = sent.json<{ deliveries: string[]; inline: DeliveryJson[] }>()
    t.equal(answer.inline[0]?.status, 'succeeded', `${label}: the inline delivery succeeded`)
    for (const id of answer.deliveries) {
      const delivery = await settled(app, ws, id)
      t.equal(delivery.status, 'succeeded', `${label}: ${delivery.last_error ?? ''}`)
    }
    await receiver.waitFor(3)
    for (const got of receiver.received) {
      t.equal(got.headers.host, new URL(receiver.url).host, `${label}: Host is the URL's`)
      t.equal(got.headers['x-kept'], 'kept', `${label}: other headers are sent`)
      t.notOk(got.headers['proxy-authorization'], `${label}: no Proxy-Authorization`)
      t.notOk(got.headers.upgrade, `${label}: no Upgrade`)
      t.same(JSON.parse(got.body).lead.name, 'Ada', `${label}: the body arrived whole`)
    }
    if (viaProxy) {
      t.equal(proxy.headers.length, 3, 'all three went through the proxy')
      for (const seen of proxy.headers) {
        t.equal(seen.host, new URL(receiver.url).host, 'the proxy saw the real Host')
        t.notOk(seen['proxy-authorization'], 'the proxy got no Proxy-Authorization from the rule')
      }
    }
    t.ok(await postEvent(app, ws, 'lead.none', lead({})), 'the app is still healthy')
  }
})
