import { XMLValidator } from 'fast-xml-parser'
import t from 'tap'
import { parseXml } from '../../src/formats/parse-xml.js'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import {
  createRule,
  type DeliveryJson,
  getDelivery,
  lead,
  postEvent,
  settled,
} from '../helpers/outbound.js'
import { type Received, startReceiver } from '../helpers/receiver.js'

// One app and database for the file; each test has its own workspace, receivers and workers.
const testApp = await build(t)

// Every character class that breaks a naive renderer: quotes, markup, `&`,
// a CDATA end, a newline, non-ASCII. No leading or trailing blanks, which XML
// readers may trim.
const nasty = 'Ada "The" <Countess>\n& co ]]> \'quoted\' ✓ ünïcode'
const record = lead({ name: nasty, age: 36, email: 'ada+1@example.com', source: 'a b&c=d' })

t.test('every body format renders what the receiver can read back', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)

  const formats: Record<string, Record<string, unknown>> = {
    json_template: {
      body_format: 'json',
      body_template: '{"name": "{{lead.name}}", "age": {{lead.age}}, "tags": ["{{lead.source}}"]}',
    },
    json_pairs: {
      body_format: 'json',
      body_pairs: [
        { key: 'name', value: '{{lead.name}}' },
        { key: 'age', value: '{{lead.age}}' },
        { key: 'channel', value: 'web' },
        { key: 'greeting', value: 'Hi {{lead.name}}!' },
      ],
    },
    form_pairs: {
      body_format: 'form',
      body_pairs: [
        { key: 'name', value: '{{lead.name}}' },
        { key: 'email', value: '{{lead.email}}' },
        { key: 'source', value: '{{lead.source}}' },
      ],
    },
    form_template: {
      body_format: 'form',
      body_template: 'name={{lead.name}}&email={{lead.email}}&source={{lead.source}}',
    },
    xml_template: {
      body_format: 'xml',
      body_template:
        '<?xml version="1.0" encoding="UTF-8"?><lead id="{{lead.name}}"><name>{{lead.name}}</name><age>{{lead.age}}</age></lead>',
    },
    xml_pairs: {
      body_format: 'xml',
      xml_root: 'contact',
      body_pairs: [
        { key: 'name', value: '{{lead.name}}' },
        { key: 'email', value: '{{lead.email}}' },
      ],
    },
    text: { body_format: 'text', body_template: 'New lead: {{lead.name}} ({{lead.age}})' },
  }
  for (const [name, request] of Object.entries(formats)) {
    await createRule(app, ws, {
      title: name,
      event_types: [`lead.${name}`],
      request: { method: 'POST', url: `${receiver.url}/${name}`, ...request },
    })
  }
  for (const name of Object.keys(formats)) await postEvent(app, ws, `lead.${name}`, record)
  await receiver.waitFor(Object.keys(formats).length)

  const at = (name: string) => receiver.received.find((r) => r.url === `/${name}`) as Received
  const form = (body: string) => Object.fromEntries(new URLSearchParams(body))

  t.equal(at('json_template').headers['content-type'], 'application/json')
  t.same(JSON.parse(at('json_template').body), { name: nasty, age: 36, tags: ['a b&c=d'] })

  t.same(JSON.parse(at('json_pairs').body), {
    name: nasty,
    age: 36,
    channel: 'web',
    greeting: `Hi ${nasty}!`,
  })

  t.equal(at('form_pairs').headers['content-type'], 'application/x-www-form-urlencoded')
  const formValues = { name: nasty, email: 'ada+1@example.com', source: 'a b&c=d' }
  t.same(form(at('form_pairs').body), formValues, 'form pairs decode back')
  t.same(form(at('form_template').body), formValues, 'a form template decodes back')

  for (const name of ['xml_template', 'xml_pairs']) {
    const body = at(name).body
    t.equal(at(name).headers['content-type'], 'application/xml')
    t.equal(XMLValidator.validate(body), true, `${name} is well-formed`)
  }
  const xmlTemplate = parseXml(at('xml_template').body)
  t.same(xmlTemplate.ok && xmlTemplate.params, {
    lead: { '@id': nasty, name: nasty, age: '36' },
  })
  const xmlPairs = parseXml(at('xml_pairs').body)
  t.same(xmlPairs.ok && xmlPairs.params, { contact: { name: nasty, email: 'ada+1@example.com' } })

  t.equal(at('text').headers['content-type'], 'text/plain; charset=utf-8')
  t.equal(at('text').body, `New lead: ${nasty} (36)`)
})

t.test('GET sends pairs as the query; append_record_params adds the record', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)

  await createRule(app, ws, {
    title: 'lookup',
    event_types: ['lead.created'],
    request: {
      method: 'GET',
      url: `${receiver.url}/lookup/{{lead.id}}?fixed=1`,
      body_format: 'form',
      body_pairs: [
        { key: 'name', value: '{{lead.name}}' },
        { key: 'source', value: '{{lead.source}}' },
      ],
    },
  })
  await createRule(app, ws, {
    title: 'with record params',
    event_types: ['lead.created'],
    request: {
      method: 'POST',
      url: `${receiver.url}/post`,
      body_format: 'json',
      body_pairs: [{ key: 'id', value: '{{lead.id}}' }],
      append_record_params: true,
    },
  })
  await postEvent(app, ws, 'lead.created', record)
  await receiver.waitFor(2)

  const get = receiver.received.find((r) => r.method === 'GET') as Received
  const getUrl = new URL(get.url, receiver.url)
  t.equal(getUrl.pathname, '/lookup/L-1')
  t.same(Object.fromEntries(getUrl.searchParams), { fixed: '1', name: nasty, source: 'a b&c=d' })
  t.equal(get.body, '', 'a GET has no body')
  t.notOk(get.headers['content-type'])

  const post = receiver.received.find((r) => r.method === 'POST') as Received
  const postUrl = new URL(post.url, receiver.url)
  t.same(Object.fromEntries(postUrl.searchParams), {
    entityType: 'lead',
    entityId: 'L-1',
    eventType: 'lead.created',
  })
  t.same(JSON.parse(post.body), { id: 'L-1' })
})

t.test(
  'auth: basic, bearer and custom header; secrets never shown nor stored in clear',
  async (t) => {
    const { app } = testApp
    await startWorkers(t, testApp)
    const receiver = await startReceiver(t)
    const ws = await createWorkspace(app)

    const secrets = {
      basic: 'basic-pass-Zq81!',
      bearer: 'bearer-token-Wm27',
      header: 'header-key-Xr55',
    }
    const auths = {
      basic: { type: 'basic', username: 'hook-user', password: secrets.basic },
      bearer: { type: 'bearer', token: secrets.bearer },
      header: { type: 'header', name: 'X-Api-Key', value: secrets.header },
    }
    const rules: Record<string, string> = {}
    for (const [kind, auth] of Object.entries(auths)) {
      const rule = await createRule(app, ws, {
        title: kind,
        event_types: [`lead.${kind}`],
        request: { method: 'POST', url: `${receiver.url}/${kind}`, body_format: 'json' },
        auth,
      })
      rules[kind] = rule.id
    }

    const shown = await Promise.all(
      Object.values(rules).map(async (id) =>
        (await app.inject({ url: `/v1/rules/${id}`, headers: ws.auth })).json(),
      ),
    )
    t.same(
      shown.map((r) => r.auth),
      [
        { type: 'basic', username: 'hook-user', secret_set: true },
        { type: 'bearer', secret_set: true },
        { type: 'header', name: 'X-Api-Key', secret_set: true },
      ],
    )
    const listed = await app.inject({ url: '/v1/rules', headers: ws.auth })
    const exported = await app.inject({ url: '/v1/rules/export.csv', headers: ws.auth })
    for (const secret of Object.values(secrets)) {
      t.notOk(JSON.stringify(shown).includes(secret), 'GET never shows the secret')
      t.notOk(listed.body.includes(secret), 'the list never shows the secret')
      t.notOk(exported.body.includes(secret), 'the export never shows the secret')
    }

    const { rows } = await testApp.database.pool.query<{ row: string; auth_secret: Buffer }>(
      'select row_to_json(r)::text as row, auth_secret from rules r where workspace_id = $1',
      [ws.id],
    )
    t.equal(rows.length, 3)
    for (const row of rows) {
      for (const secret of Object.values(secrets)) {
        t.notOk(row.row.includes(secret), 'no plaintext secret in the row')
        t.notOk(row.auth_secret.includes(Buffer.from(secret)), 'the secret column is sealed')
      }
    }

    const events = await Promise.all(
      Object.keys(auths).map((kind) => postEvent(app, ws, `lead.${kind}`, record)),
    )
    await receiver.waitFor(3)
    const at = (kind: string) => receiver.received.find((r) => r.url === `/${kind}`) as Received
    t.equal(
      at('basic').headers.authorization,
      `Basic ${Buffer.from(`hook-user:${secrets.basic}`).toString('base64')}`,
    )
    t.equal(at('bearer').headers.authorization, `Bearer ${secrets.bearer}`)
    t.equal(at('header').headers['x-api-key'], secrets.header)

    const deliveries: DeliveryJson[] = []
    for (const event of events) {
      deliveries.push(await settled(app, ws, event.deliveries[0] as string, 'succeeded'))
    }
    const history = JSON.stringify(
      await Promise.all(deliveries.map((d) => getDelivery(app, ws, d.id))),
    )
    for (const secret of Object.values(secrets)) {
      t.notOk(history.includes(secret), 'history redacts the credentials')
    }
    const headerAttempt = (await getDelivery(app, ws, deliveries[2]!.id)).attempt_history[0]!
    t.equal(headerAttempt.request.headers['x-api-key'], '[redacted]')
  },
)

t.test('append_record_params keeps the names the rule already sends', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)

  // LeadSquared-style: the rule names its own entityType and entityId.
  await createRule(app, ws, {
    title: 'own values in the URL',
    event_types: ['lead.created'],
    request: {
      method: 'POST',
      url: `${receiver.url}/post?entityType=Prospect&entityId={{lead.prospect}}`,
      body_format: 'json',
      body_pairs: [{ key: 'id', value: '{{lead.id}}' }],
      append_record_params: true,
    },
  })
  await createRule(app, ws, {
    title: 'own value as a GET pair',
    event_types: ['lead.created'],
    request: {
      method: 'GET',
      url: `${receiver.url}/get`,
      body_format: 'form',
      body_pairs: [{ key: 'eventType', value: 'NewLead' }],
      append_record_params: true,
    },
  })
  await postEvent(app, ws, 'lead.created', lead({ prospect: 'P-77' }))
  await receiver.waitFor(2)

  const query = (method: string) => {
    const got = receiver.received.find((r) => r.method === method) as Received
    const params = new URL(got.url, receiver.url).searchParams
    return [...params.keys()].map((k) => [k, params.getAll(k)])
  }
  t.same(
    Object.fromEntries(query('POST')),
    { entityType: ['Prospect'], entityId: ['P-77'], eventType: ['lead.created'] },
    'the URL’s own entityType and entityId are kept; eventType, absent, is added',
  )
  t.same(
    Object.fromEntries(query('GET')),
    { eventType: ['NewLead'], entityType: ['lead'], entityId: ['L-1'] },
    'a GET pair of the same name is kept too',
  )
})
