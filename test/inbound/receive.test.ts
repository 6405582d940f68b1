import { Webhook } from 'standardwebhooks'
import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { callOf, createHandler, listen, send } from '../helpers/inbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'

const leadHandler = {
  title: 'Contact form',
  parameters: [
    { name: 'email', type: 'email', required: true },
    { name: 'full_name', type: 'string', required: false },
    { name: 'age', type: 'number', required: false },
  ],
  mapping: [
    { source: 'email', target: 'lead.email' },
    { source: 'full_name', target: 'lead.name' },
    { source: 'age', target: 'lead.age' },
  ],
}

t.test(
  'form, JSON, XML and multipart posts are recorded, mapped and forwarded as signed notices',
  async (t) => {
    const testApp = await build(t, { workerConcurrency: 10 })
    const { app } = testApp
    await startWorkers(t, testApp)
    const crm = await startReceiver(t)
    const ws = await createWorkspace(app)
    const settings = await app.inject({
      method: 'PATCH',
      url: '/v1/settings',
      headers: ws.auth,
      payload: { crm_callback_url: `${crm.url}/notices` },
    })
    t.equal(settings.statusCode, 200, settings.body)
    const handler = await createHandler(app, ws.auth, leadHandler)
    t.match(handler.endpoint_url, /^http:\/\/127\.0\.0\.1:3000\/in\/hli_[\w-]{32}$/)
    const base = await listen(t, app)
    const url = `${base}${handler.path}`

    const form = await send(url, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=Ada%40Example.com&full_name=Ada+Lovelace&age=36',
    })
    t.equal(form.status, 200, form.text)
    t.same(form.json(), { ok: true })

    const json = await send(url, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'grace@example.com',
        full_name: 'Grace "Amazing" Hopper',
        age: '85',
      }),
    })
    t.equal(json.status, 200, json.text)

    // XML keeps its root element in the paths.
    const xmlHandler = await createHandler(app, ws.auth, {
      title: 'XML feed',
      body_format: 'xml',
      parameters: [{ name: 'lead.email', type: 'email', required: true }],
      mapping: [
        { source: 'lead.email', target: 'lead.email' },
        { source: 'lead.full_name', target: 'lead.name' },
      ],
    })
    const xml = await send(`${base}${xmlHandler.path}`, {
      headers: { 'content-type': 'text/plain' },
      body: '<?xml version="1.0"?><lead><email>alan@example.com</email><full_name>Alan &amp; co</full_name></lead>',
    })
    t.equal(xml.status, 200, xml.text)

    const boundary = 'XyZ123'
    const multipart = await send(url, {
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: [
        `--${boundary}`,
        'Content-Disposition: form-data; name="email"',
        '',
        'kat@example.com',
        `--${boundary}`,
        'Content-Disposition: form-data; name="full_name"',
        '',
        'Katherine Johnson',
        `--${boundary}--`,
        '',
      ].join('\r\n'),
    })
    t.equal(multipart.status, 200, multipart.text)

    const call = await callOf(app, ws.auth, form)
    t.match(call, {
      handler_id: handler.id,
      method: 'POST',
      outcome: 'accepted',
      reason: null,
      source_address: '127.0.0.1',
      response_status: 200,
      parameters: { email: 'ada@example.com', full_name: 'Ada Lovelace', age: 36 },
      record: { lead: { email: 'ada@example.com', name: 'Ada Lovelace', age: 36 } },
      request: {
        body: 'email=Ada%40Example.com&full_name=Ada+Lovelace&age=36',
        body_encoding: 'utf8',
      },
    })
    t.ok(call.forwarded.notice_delivery_id, 'the notice is named on the call')
    t.same((await callOf(app, ws.auth, xml)).record, {
      lead: { email: 'alan@example.com', name: 'Alan & co' },
    })
    t.same((await callOf(app, ws.auth, multipart)).record, {
      lead: { email: 'kat@example.com', name: 'Katherine Johnson' },
    })

    await crm.waitFor(4)
    const secret = (
      await app.inject({ url: '/v1/settings/signing-secret', headers: ws.auth })
    ).json().secret
    const verifier = new Webhook(secret)
    const notices = crm.received.map((got) => {
      t.equal(got.url, '/notices')
      return verifier.verify(got.body, {
        'webhook-id': got.headers['webhook-id'] as string,
        'webhook-timestamp': got.headers['webhook-timestamp'] as string,
        'webhook-signature': got.headers['webhook-signature'] as string,
      }) as { type: string; data: Record<string, unknown> }
    })
    const forForm = notices.find((n) => n.data.call_id === call.id)
    t.match(forForm, {
      type: 'inbound.record',
      data: {
        handler_id: handler.id,
        entity_type: 'lead',
        record: { lead: { email: 'ada@example.com', name: 'Ada Lovelace', age: 36 } },
      },
    })
    t.equal(
      crm.received.find((got) => got.headers['webhook-id'] === call.forwarded.notice_delivery_id)
        ?.headers['webhook-id'],
      call.forwarded.notice_delivery_id,
      'webhook-id is the notice delivery',
    )
    const delivery = await eventually(async () => {
      const res = await app.inject({
        url: `/v1/deliveries/${call.forwarded.notice_delivery_id}`,
        headers: ws.auth,
      })
      return res.json().status === 'succeeded' ? res.json() : undefined
    })
    t.equal(delivery.event_type, 'inbound.record')
  },
)

t.test(
  'fulfillment actions run their rule with the mapped record; a disabled rule is skipped',
  async (t) => {
    const testApp = await build(t, { workerConcurrency: 10 })
    const { app } = testApp
    await startWorkers(t, testApp)
    const dialer = await startReceiver(t)
    const ws = await createWorkspace(app)
    const rule = await app.inject({
      method: 'POST',
      url: '/v1/rules',
      headers: ws.auth,
      payload: {
        title: 'Send to the dialer',
        request: {
          method: 'POST',
          url: `${dialer.url}/dial`,
          body_format: 'json',
          body_template:
            '{"email": "{{ lead.email }}", "id": "{{ record.entity_id }}", "via": "{{ event.type }}"}',
        },
      },
    })
    t.equal(rule.statusCode, 201, rule.body)
    const paused = await app.inject({
      method: 'POST',
      url: '/v1/rules',
      headers: ws.auth,
      payload: {
        title: 'Paused',
        enabled: false,
        request: { method: 'POST', url: `${dialer.url}/never`, body_format: 'json' },
      },
    })
    const handler = await createHandler(app, ws.auth, {
      ...leadHandler,
      mapping: [...leadHandler.mapping, { source: 'id', target: 'lead.id' }],
      actions: [
        { type: 'run_rule', rule_id: rule.json().id },
        { type: 'run_rule', rule_id: paused.json().id },
      ],
    })
    const base = await listen(t, app)
    const sent = await send(`${base}${handler.path}`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', id: 'L-42' }),
    })
    t.equal(sent.status, 200, sent.text)
    const call = await callOf(app, ws.auth, sent)
    t.same(call.forwarded.actions, [
      {
        rule_id: rule.json().id,
        delivery_id: call.forwarded.actions[0].delivery_id,
        skipped: null,
      },
      { rule_id: paused.json().id, delivery_id: null, skipped: 'the rule is disabled' },
    ])
    await dialer.waitFor(1)
    t.equal(dialer.received[0]?.url, '/dial')
    t.same(JSON.parse(dialer.received[0]?.body ?? ''), {
      email: 'ada@example.com',
      id: 'L-42',
      via: 'inbound.record',
    })
    const delivery = await eventually(async () => {
      const res = await app.inject({
        url: `/v1/deliveries/${call.forwarded.actions[0].delivery_id}`,
        headers: ws.auth,
      })
      return res.json().status === 'succeeded' ? res.json() : undefined
    })
    t.match(delivery, { rule_id: rule.json().id, entity_type: 'lead', entity_id: 'L-42' })
  },
)
