import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { ruleBody } from '../helpers/outbound.js'

// One app and database for the file; each test has its own workspace, receivers and workers.
const testApp = await build(t)

const url = 'https://receiver.example.com/hook'

t.test('invalid rules are refused with a message naming the field', async (t) => {
  const { app } = testApp
  const ws = await createWorkspace(app)
  const create = (payload: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: '/v1/rules', headers: ws.auth, payload })
  const refused = async (payload: Record<string, unknown>, message: RegExp, what: string) => {
    const res = await create(payload)
    t.equal(res.statusCode, 400, `${what}: ${res.body}`)
    t.equal(res.json().code, 'validation_failed', what)
    t.match(res.json().message, message, what)
  }

  await refused(
    ruleBody(url, {
      request: { method: 'POST', url, body_format: 'json', body_template: '{"a": "{{ lead.id "}' },
    }),
    /^body\/request\/body_template: /,
    'bad template syntax',
  )
  await refused(
    ruleBody(url, {
      request: {
        method: 'POST',
        url,
        body_format: 'form',
        body_pairs: [{ key: 'a', value: '{% if lead.x %}open' }],
      },
    }),
    /^body\/request\/body_pairs\/0\/value: /,
    'bad template in a pair',
  )
  await refused(
    ruleBody(`${url}/{{ lead.id | nosuchfilter }}`, {
      request: { method: 'POST', url: `${url}/{{ lead.id | nosuchfilter }}`, body_format: 'json' },
    }),
    /^body\/request\/url: /,
    'unknown filter in the URL',
  )
  await refused(
    ruleBody(url, {
      conditions: { all: [{ field: 'lead.status', op: 'in', value: 'Qualified' }] },
    }),
    /body\/conditions\.all\[0\]\.value: 'in' needs an array/,
    'in without an array',
  )
  await refused(
    ruleBody(url, { conditions: { any: [{ field: 'lead.status', op: 'is_empty', value: 'x' }] } }),
    /body\/conditions\.any\[0\]\.value: 'is_empty' takes no value/,
    'is_empty with a value',
  )
  await refused(
    ruleBody(url, {
      request: { method: 'GET', url, body_format: 'json', body_template: '{"a": 1}' },
    }),
    /^body\/request\/body_template: a GET request has no body/,
    'body_template with GET',
  )
  await refused(
    ruleBody(url, {
      request: {
        method: 'POST',
        url,
        body_format: 'json',
        body_template: '{}',
        body_pairs: [{ key: 'a', value: 'b' }],
      },
    }),
    /^body\/request: give body_template or body_pairs, not both/,
    'both a template and pairs',
  )
  await refused(
    ruleBody(url, {
      request: {
        method: 'POST',
        url,
        body_format: 'xml',
        body_pairs: [
          { key: 'name', value: '{{lead.name}}' },
          { key: 'first name', value: '{{lead.first}}' },
        ],
      },
    }),
    /^body\/request\/body_pairs\/1\/key: 'first name' cannot be an XML element name/,
    'an XML pair whose key is no element name (it could never render)',
  )
  await refused(
    ruleBody(url, { colour: 'red' }),
    /^body\/colour: unknown property/,
    'unknown top-level property',
  )
  await refused(
    ruleBody(url, { request: { method: 'POST', url, body_format: 'json', verb: 'x' } }),
    /^body\/request\/verb: unknown property/,
    'unknown request property',
  )
  await refused(
    ruleBody(url, { execution: { max_attempts: 11 } }),
    /^body\/execution\/max_attempts: /,
    'too many attempts',
  )
  await refused(
    ruleBody(url, { execution: { timeout_ms: 10 } }),
    /^body\/execution\/timeout_ms: /,
    'timeout below the minimum',
  )
  await refused(
    ruleBody('ftp://receiver.example.com/x', {
      request: { method: 'POST', url: 'ftp://receiver.example.com/x', body_format: 'json' },
    }),
    /^body\/request\/url: /,
    'a URL that is not http(s)',
  )
  await refused(
    ruleBody(url, {
      request: {
        method: 'POST',
        url: 'https://user:pa55@receiver.example.com/x',
        body_format: 'json',
      },
    }),
    /^body\/request\/url: .*credentials/,
    'credentials in the URL (they would be stored and shown in clear)',
  )
  await refused(
    ruleBody(url, { execution: { mode: 'inline', batch_window_seconds: 5 } }),
    /^body\/execution\/batch_window_seconds: /,
    'batching an inline rule',
  )
  await refused(
    ruleBody(url, { event_types: ['Lead Created'] }),
    /^body\/event_types\/0: /,
    'an event type that is not dot-delimited',
  )

  const ok = await create(ruleBody(url, { title: 'fine' }))
  t.equal(ok.statusCode, 201, 'a valid rule is accepted')
  const rules = await app.inject({ url: '/v1/rules', headers: ws.auth })
  t.equal(rules.json().data.length, 1, 'nothing refused was stored')

  const patch = await app.inject({
    method: 'PATCH',
    url: `/v1/rules/${ok.json().id}`,
    headers: ws.auth,
    payload: { request: { method: 'DELETE', url, body_format: 'json', body_template: '{}' } },
  })
  t.equal(patch.statusCode, 400, 'updates are checked the same way')
  t.match(patch.json().message, /^body\/request\/body_template: a DELETE request has no body/)
})

t.test('with a catalog, unknown event types and fields are refused, each named', async (t) => {
  const { app } = testApp
  const ws = await createWorkspace(app)
  const create = (payload: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: '/v1/rules', headers: ws.auth, payload })

  const noCatalog = await create(
    ruleBody(url, {
      event_types: ['deal.won'],
      request: { method: 'POST', url, body_format: 'json', body_template: '{"x": "{{deal.x}}"}' },
    }),
  )
  t.equal(noCatalog.statusCode, 201, 'without a catalog nothing is checked')

  for (const name of ['lead.created', 'lead.updated']) {
    const res = await app.inject({
      method: 'PUT',
      url: `/v1/event-types/${name}`,
      headers: ws.auth,
      payload: { description: name },
    })
    t.equal(res.statusCode, 201)
  }
  const fields = await app.inject({
    method: 'PUT',
    url: '/v1/fields',
    headers: ws.auth,
    payload: {
      data: [
        { key: 'lead.id', label: 'Id', type: 'string', entity: 'lead' },
        { key: 'lead.status', label: 'Status', type: 'string', entity: 'lead' },
        { key: 'lead.address', label: 'Address', type: 'object', entity: 'lead' },
        { key: 'lead.dialer_id', label: 'Dialer id', type: 'string', entity: 'lead' },
      ],
    },
  })
  t.equal(fields.statusCode, 200)

  const bad = await create(
    ruleBody(`${url}/{{lead.id}}?o={{lead.office}}`, {
      event_types: ['lead.created', 'deal.won', 'lead.deleted'],
      conditions: { all: [{ field: 'lead.case_type', op: 'equals', value: 'A' }] },
      request: {
        method: 'POST',
        url: `${url}/{{lead.id}}?o={{lead.office}}`,
        body_format: 'json',
        body_pairs: [
          { key: 'city', value: '{{lead.address.city}}' },
          { key: 'event', value: '{{event.type}}' },
          { key: 'tracker', value: '{{lead.tracker_code}}' },
        ],
      },
      response: { mapping: [{ path: 'data.id', field: 'lead.remote_id' }] },
    }),
  )
  t.equal(bad.statusCode, 400, bad.body)
  const message: string = bad.json().message
  for (const name of [
    'unknown event type "deal.won"',
    'unknown event type "lead.deleted"',
    'unknown field "lead.case_type"',
    'unknown field "lead.office"',
    'unknown field "lead.tracker_code"',
    'unknown field "lead.remote_id"',
  ]) {
    t.ok(message.includes(name), `names ${name}`)
  }
  for (const known of ['"lead.created"', '"lead.id"', '"lead.address.city"', '"event.type"']) {
    t.notOk(message.includes(known), `does not name ${known}`)
  }

  const good = await create(
    ruleBody(`${url}/{{lead.id}}`, {
      event_types: ['lead.created', 'lead.updated'],
      conditions: { all: [{ field: 'lead.status', op: 'equals', value: 'Qualified' }] },
      request: {
        method: 'POST',
        url: `${url}/{{lead.id}}`,
        body_format: 'json',
        body_pairs: [{ key: 'city', value: '{{lead.address.city}}' }],
      },
      response: { mapping: [{ path: 'data.id', field: 'lead.dialer_id' }] },
    }),
  )
  t.equal(good.statusCode, 201, good.body)

  const archived = await app.inject({
    method: 'PUT',
    url: '/v1/event-types/lead.updated',
    headers: ws.auth,
    payload: { archived: true },
  })
  t.equal(archived.statusCode, 200)
  const onArchived = await create(ruleBody(url, { event_types: ['lead.updated'] }))
  t.equal(onArchived.statusCode, 400, 'an archived type is not offered to new rules')
  t.match(onArchived.json().message, /unknown event type "lead.updated"/)
})

t.test('a wrong auth or condition names the property at fault', async (t) => {
  const { app } = testApp
  const ws = await createWorkspace(app)
  const message = async (extra: Record<string, unknown>) =>
    (
      await app.inject({
        method: 'POST',
        url: '/v1/rules',
        headers: ws.auth,
        payload: ruleBody(url, extra),
      })
    ).json().message as string
  t.match(
    await message({ auth: { type: 'bearer', token: 'x', extra: 1 } }),
    /^body\/auth\/extra: unknown property/,
  )
  t.match(
    await message({ auth: { type: 'basic', password: 'x' } }),
    /^body\/auth\/username: required/,
  )
  t.match(
    await message({ conditions: { all: [{ field: 'lead.status', op: 'nope', value: 1 }] } }),
    /^body\/conditions\/all\/0\/op: /,
  )
})
