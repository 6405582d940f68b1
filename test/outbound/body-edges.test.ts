// The edges of request bodies (#19 items 1-4): every body format sends what
// the rule says, alone and batched, and a batched record is findable by its
// own id. Real receivers parse what arrived.
import { XMLParser, XMLValidator } from 'fast-xml-parser'
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
import { startReceiver } from '../helpers/receiver.js'
import { assertError } from '../security/helpers.js'

const testApp = await build(t)

t.test('a text body with key-value pairs sends one key=value per line', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  const pairs = [
    { key: 'name', value: '{{lead.name}}' },
    { key: 'note', value: '{{lead.note}}' },
    { key: 'channel', value: 'web' },
  ]
  const rule = await createRule(
    app,
    ws,
    ruleBody(receiver.url, {
      request: {
        method: 'POST',
        url: `${receiver.url}/text`,
        body_format: 'text',
        body_pairs: pairs,
      },
    }),
  )
  const sent = await postEvent(
    app,
    ws,
    'lead.created',
    lead({ name: 'Ada = Countess', note: 'line one\nline two \\ done' }),
  )
  const delivery = await settled(app, ws, sent.deliveries[0]!)
  t.equal(delivery.status, 'succeeded', delivery.last_error ?? '')
  const got = receiver.received[0]!
  t.match(got.headers['content-type'], /^text\/plain/)
  t.equal(
    got.body,
    'name=Ada = Countess\nnote=line one\\nline two \\\\ done\nchannel=web',
    'one line per pair; a line break or backslash in a value is escaped',
  )
  // A receiver splits lines, then each at its first `=`, and unescapes.
  const parsed = Object.fromEntries(
    got.body.split('\n').map((line) => {
      const at = line.indexOf('=')
      const value = line
        .slice(at + 1)
        .replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c))
      return [line.slice(0, at), value]
    }),
  )
  t.same(parsed, { name: 'Ada = Countess', note: 'line one\nline two \\ done', channel: 'web' })

  // PATCH takes the same shape; a key that cannot be a line's key is refused.
  const bad = await app.inject({
    method: 'PATCH',
    url: `/v1/rules/${rule.id}`,
    headers: ws.auth,
    payload: {
      request: {
        method: 'POST',
        url: `${receiver.url}/text`,
        body_format: 'text',
        body_pairs: [{ key: 'a=b', value: 'x' }],
      },
    },
  })
  assertError(t, bad, 400, /^body\/request\/body_pairs\/0\/key: /, 'a key with =')
})

t.test('XML with no template sends the record as XML', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(
    app,
    ws,
    ruleBody(receiver.url, {
      request: { method: 'POST', url: `${receiver.url}/xml`, body_format: 'xml' },
    }),
  )
  await createRule(
    app,
    ws,
    ruleBody(receiver.url, {
      title: 'rooted',
      request: {
        method: 'POST',
        url: `${receiver.url}/rooted`,
        body_format: 'xml',
        xml_root: 'lead',
      },
    }),
  )
  const fields = {
    name: 'Ada <&> "Countess"',
    age: 36,
    vip: true,
    tags: ['a', 'b'],
    address: { city: 'London' },
    'first name': 'Ada',
    missing: null,
  }
  const sent = await postEvent(app, ws, 'lead.created', lead(fields))
  for (const id of sent.deliveries) {
    const delivery = await settled(app, ws, id)
    t.equal(delivery.status, 'succeeded', delivery.last_error ?? '')
  }
  const byPath = Object.fromEntries(receiver.received.map((r) => [r.url, r]))
  for (const [path, root] of [
    ['/xml', 'record'],
    ['/rooted', 'lead'],
  ] as const) {
    const got = byPath[path]!
    t.match(got.headers['content-type'], /^application\/xml/)
    t.ok(got.body.length > 0, `${path}: not empty`)
    t.equal(XMLValidator.validate(got.body), true, `${path}: well-formed`)
    const doc = new XMLParser({
      ignoreAttributes: false,
      parseTagValue: false,
      isArray: (name) => name === 'tags',
    }).parse(got.body)
    const record = doc[root]
    t.ok(record, `${path}: the root is <${root}>`)
    t.match(
      record.lead,
      {
        id: 'L-1',
        name: 'Ada <&> "Countess"',
        age: '36',
        vip: 'true',
        tags: ['a', 'b'],
        address: { city: 'London' },
        missing: '',
      },
      `${path}: every field, nested as in the record`,
    )
    t.match(
      record.lead.field,
      { '@_name': 'first name', '#text': 'Ada' },
      `${path}: odd names kept`,
    )
    t.match(record.record, { entity_type: 'lead', entity_id: 'L-1' })
    t.match(record.event, { type: 'lead.created' })
  }
})

t.test('batched form bodies use indexed keys; text and GET refuse batching', async (t) => {
  const { app } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  const execution = { batch_window_seconds: 1 }
  await createRule(app, ws, {
    title: 'form pairs',
    event_types: ['note.pairs'],
    request: {
      method: 'POST',
      url: `${receiver.url}/pairs`,
      body_format: 'form',
      body_pairs: [
        { key: 'id', value: '{{lead.id}}' },
        { key: 'n', value: '{{lead.note}}' },
      ],
    },
    execution,
  })
  await createRule(app, ws, {
    title: 'form template',
    event_types: ['note.template'],
    request: {
      method: 'POST',
      url: `${receiver.url}/template`,
      body_format: 'form',
      body_template: 'id={{lead.id}}&n={{lead.note}}',
    },
    execution,
  })
  for (const type of ['note.pairs', 'note.template']) {
    for (const i of [1, 2, 3]) await postEvent(app, ws, type, lead({ note: `n${i} & m` }, `B-${i}`))
  }
  await startWorkers(t, testApp)
  await receiver.waitFor(2)
  for (const path of ['/pairs', '/template']) {
    const got = receiver.received.find((r) => r.url === path)!
    t.match(got.headers['content-type'], /^application\/x-www-form-urlencoded/)
    t.equal(
      got.body,
      'records%5B0%5D%5Bid%5D=B-1&records%5B0%5D%5Bn%5D=n1+%26+m&' +
        'records%5B1%5D%5Bid%5D=B-2&records%5B1%5D%5Bn%5D=n2+%26+m&' +
        'records%5B2%5D%5Bid%5D=B-3&records%5B2%5D%5Bn%5D=n3+%26+m',
      `${path}: records[i][key]=value`,
    )
    const form = new URLSearchParams(got.body)
    t.same(
      [0, 1, 2].map((i) => [form.get(`records[${i}][id]`), form.get(`records[${i}][n]`)]),
      [
        ['B-1', 'n1 & m'],
        ['B-2', 'n2 & m'],
        ['B-3', 'n3 & m'],
      ],
      `${path}: a form parser reads three records`,
    )
  }

  for (const request of [
    { method: 'POST', url: `${receiver.url}/t`, body_format: 'text', body_template: '{{lead.id}}' },
    { method: 'GET', url: `${receiver.url}/g`, body_format: 'json' },
    { method: 'DELETE', url: `${receiver.url}/d`, body_format: 'json' },
  ]) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/rules',
      headers: ws.auth,
      payload: { title: 'batched', event_types: ['x.y'], request, execution },
    })
    assertError(
      t,
      res,
      400,
      /^body\/execution\/batch_window_seconds: /,
      `${request.method} ${request.body_format}`,
    )
  }

  // A text rule given a window before that was refused: each record goes alone.
  const legacy = await createRule(app, ws, {
    title: 'legacy text',
    event_types: ['note.text'],
    request: {
      method: 'POST',
      url: `${receiver.url}/text`,
      body_format: 'text',
      body_template: '{{lead.id}}',
    },
  })
  await testApp.database.pool.query(
    `update rules set execution = jsonb_set(execution, '{batch_window_seconds}', '60') where id = $1`,
    [legacy.id],
  )
  const one = await postEvent(app, ws, 'note.text', lead({}, 'T-1'))
  const two = await postEvent(app, ws, 'note.text', lead({}, 'T-2'))
  t.not(one.deliveries[0], two.deliveries[0], 'not joined into one delivery')
  await settled(app, ws, two.deliveries[0]!, 'succeeded')
  await settled(app, ws, one.deliveries[0]!, 'succeeded')
  t.same(
    receiver.received
      .filter((r) => r.url === '/text')
      .map((r) => r.body)
      .sort(),
    ['T-1', 'T-2'],
    'one request per record',
  )
})
t.test('every record of a batch is found in history by its own id', async (t) => {
  const { app } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(
    app,
    ws,
    ruleBody(receiver.url, { event_types: ['note.added'], execution: { batch_window_seconds: 1 } }),
  )
  const answers = []
  for (const i of [1, 2, 3])
    answers.push(await postEvent(app, ws, 'note.added', lead({}, `B-${i}`)))
  const id = answers[0]!.deliveries[0]!
  t.same(
    answers.map((a) => a.deliveries),
    [[id], [id], [id]],
    'one delivery for the three',
  )
  await startWorkers(t, testApp)
  await settled(app, ws, id, 'succeeded')
  for (const entity of ['B-1', 'B-2', 'B-3']) {
    const res = await app.inject({ url: `/v1/deliveries?entity_id=${entity}`, headers: ws.auth })
    t.equal(res.statusCode, 200)
    t.same(
      res.json<{ data: DeliveryJson[] }>().data.map((d) => d.id),
      [id],
      `${entity} finds the batch`,
    )
  }
  const none = await app.inject({ url: '/v1/deliveries?entity_id=B-9', headers: ws.auth })
  t.same(none.json().data, [], 'a record not in it finds nothing')
  const other = await createWorkspace(app, 'Other')
  const leak = await app.inject({ url: '/v1/deliveries?entity_id=B-2', headers: other.auth })
  t.same(leak.json().data, [], 'nor does another workspace')
})
