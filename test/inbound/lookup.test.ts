import { Webhook } from 'standardwebhooks'
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { callOf, createHandler, listen, send } from '../helpers/inbound.js'
import { startReceiver } from '../helpers/receiver.js'

const lookupHandler = {
  title: 'Caller ID',
  methods: ['GET'],
  parameters: [{ name: 'phone', type: 'phone', required: true }],
  mapping: [{ source: 'phone', target: 'lead.phone' }],
  verification: { type: 'secret_query', param: 'key', secret: 'dialer-key' },
  response: {
    content_type: 'application/json',
    body_template:
      '{"name": "{{ record.lead.name }}", "owner": "{{ record.lead.owner | default: "nobody" }}", "phone": "{{ params.phone }}"}',
  },
}

t.test('a GET call asks the CRM lookup, signed, and answers from its record', async (t) => {
  const { app } = await build(t, { inboundLookupTimeoutMs: 500 })
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const crm = await startReceiver(t, (req, res) => {
    const { data } = JSON.parse(req.body)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        record:
          data.record.lead.phone === '+15550109999'
            ? { lead: { name: 'Ada "Countess" Lovelace' } }
            : null,
      }),
    )
  })
  await app.inject({
    method: 'PATCH',
    url: '/v1/settings',
    headers: ws.auth,
    payload: { crm_lookup_url: `${crm.url}/lookup` },
  })
  const handler = await createHandler(app, ws.auth, lookupHandler)
  const url = `${base}${handler.path}`

  const found = await send(`${url}?key=dialer-key&phone=%2B1%20555%20010%209999`, { method: 'GET' })
  t.equal(found.status, 200, found.text)
  t.same(found.json(), { name: 'Ada "Countess" Lovelace', owner: 'nobody', phone: '+15550109999' })

  t.equal(crm.received.length, 1)
  const asked = crm.received[0]!
  t.equal(asked.method, 'POST')
  const secret = (await app.inject({ url: '/v1/settings/signing-secret', headers: ws.auth })).json()
    .secret
  const payload = new Webhook(secret).verify(asked.body, {
    'webhook-id': asked.headers['webhook-id'] as string,
    'webhook-timestamp': asked.headers['webhook-timestamp'] as string,
    'webhook-signature': asked.headers['webhook-signature'] as string,
  }) as { type: string; data: Record<string, unknown> }
  t.match(payload, {
    type: 'inbound.lookup',
    data: {
      handler_id: handler.id,
      entity_type: 'lead',
      record: { lead: { phone: '+15550109999' } },
    },
  })
  t.same(
    payload.data.parameters,
    { phone: '+15550109999' },
    'the secret query parameter is not a parameter',
  )

  const call = await callOf(app, ws.auth, found)
  t.match(call, {
    method: 'GET',
    outcome: 'accepted',
    response_status: 200,
    lookup: { lead: { name: 'Ada "Countess" Lovelace' } },
    request: { query: { key: '[redacted]', phone: '+1 555 010 9999' } },
  })
  t.equal(asked.headers['webhook-id'], call.id, 'the lookup is signed with the call id')

  const none = await send(`${url}?key=dialer-key&phone=5550100000`, { method: 'GET' })
  t.equal(none.status, 200, 'nothing found is an answer, not a failure')
  t.same(none.json(), { name: '', owner: 'nobody', phone: '5550100000' })

  const post = await send(`${url}?key=dialer-key`, { body: 'phone=1' })
  t.equal(post.status, 405, 'a GET-only handler refuses POST')
})

t.test('a failing, slow or missing CRM lookup answers 502 and is recorded as error', async (t) => {
  const { app } = await build(t, { inboundLookupTimeoutMs: 300 })
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, {
    ...lookupHandler,
    response: { body_template: null },
  })
  const url = `${base}${handler.path}?key=dialer-key&phone=5550109999`

  const unset = await send(url, { method: 'GET' })
  t.equal(unset.status, 502)
  t.equal(unset.json().code, 'lookup_failed')
  t.match(await callOf(app, ws.auth, unset), {
    outcome: 'error',
    reason: 'no CRM lookup URL is set for the workspace',
    response_status: 502,
  })

  let mode: 'fail' | 'slow' | 'garbage' | 'ok' = 'fail'
  const crm = await startReceiver(t, (_req, res) => {
    if (mode === 'slow') return setTimeout(() => res.end('{"record":null}'), 1500).unref()
    if (mode === 'fail') {
      res.writeHead(500)
      return res.end('boom')
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(mode === 'garbage' ? '[1,2]' : '{"record":{"lead":{"name":"Grace"}}}')
  })
  await app.inject({
    method: 'PATCH',
    url: '/v1/settings',
    headers: ws.auth,
    payload: { crm_lookup_url: crm.url },
  })

  const failed = await send(url, { method: 'GET' })
  t.equal(failed.status, 502)
  t.match(await callOf(app, ws.auth, failed), {
    outcome: 'error',
    reason: 'the CRM lookup answered 500',
  })

  mode = 'slow'
  const slow = await send(url, { method: 'GET' })
  t.equal(slow.status, 502)
  t.match(await callOf(app, ws.auth, slow), { outcome: 'error', reason: /timed out after 300 ms/ })

  mode = 'garbage'
  const garbage = await send(url, { method: 'GET' })
  t.match(await callOf(app, ws.auth, garbage), {
    outcome: 'error',
    reason: /without a "record" object/,
  })

  mode = 'ok'
  const ok = await send(url, { method: 'GET' })
  t.equal(ok.status, 200)
  t.same(ok.json(), { record: { lead: { name: 'Grace' } } }, 'no template: the record as JSON')
})

t.test(
  'a Standard Webhooks lookup retried with the same webhook-id is looked up again',
  async (t) => {
    const { app } = await build(t, { inboundLookupTimeoutMs: 2000 })
    const ws = await createWorkspace(app)
    const base = await listen(t, app)
    const crm = await startReceiver(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ record: { lead: { name: 'Ada' } } }))
    })
    await app.inject({
      method: 'PATCH',
      url: '/v1/settings',
      headers: ws.auth,
      payload: { crm_lookup_url: `${crm.url}/lookup` },
    })
    const secret = `whsec_${Buffer.alloc(24, 9).toString('base64')}`
    const handler = await createHandler(app, ws.auth, {
      ...lookupHandler,
      verification: { type: 'standard_webhooks', secret },
    })
    const url = `${base}${handler.path}?phone=%2B15550109999`
    const signer = new Webhook(secret)
    const headers = (at: Date) => ({
      'webhook-id': 'msg_lookup',
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signer.sign('msg_lookup', at, ''),
    })
    const first = await send(url, { method: 'GET', headers: headers(new Date()) })
    t.equal(first.status, 200, first.text)
    const retry = await send(url, { method: 'GET', headers: headers(new Date(Date.now() + 3000)) })
    t.equal(retry.status, 200, `a read is safe to answer again: ${retry.text}`)
    t.same(retry.json(), first.json())
    t.equal((await callOf(app, ws.auth, retry)).outcome, 'accepted')
    t.equal(crm.received.length, 2)
  },
)
