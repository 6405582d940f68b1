import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { createRule, lead, postEvent, ruleBody, settled } from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

const testApp = await build(t)

t.test('response mapping that finds nothing says which paths and why', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t, (req, res) => {
    if (req.url === '/xml') {
      res.writeHead(200, { 'content-type': 'application/xml' })
      res.end('<r><id>7</id></r>')
    } else if (req.url === '/text') {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('OK 12345')
    } else {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"data":{"name":"x"}}')
    }
  })
  const ws = await createWorkspace(app)
  const mapping = [{ path: 'data.id', field: 'lead.ext_id' }]
  const wrongFormat = await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/xml`, { title: 'xml', response: { format: 'json', mapping } }),
  )
  const missing = await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/json`, { title: 'json', response: { format: 'json', mapping } }),
  )
  const text = await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/text`, {
      title: 'text',
      response: { format: 'text', mapping: [{ path: 'text', field: 'lead.note' }] },
    }),
  )
  const event = await postEvent(app, ws, 'lead.created', lead({}))
  const byRule = new Map<string, string>()
  for (const id of event.deliveries) {
    const d = await settled(app, ws, id, 'succeeded')
    byRule.set(d.rule_id as string, id)
  }
  const delivery = async (ruleId: string) =>
    (await app.inject({ url: `/v1/deliveries/${byRule.get(ruleId)}`, headers: ws.auth })).json()

  const xml = await delivery(wrongFormat.id)
  t.equal(xml.response_unmapped.length, 1)
  t.match(xml.response_unmapped[0], {
    path: 'data.id',
    field: 'lead.ext_id',
    reason: /not JSON as the rule expects \(it looks like XML/,
  })
  const json = await delivery(missing.id)
  t.match(json.response_unmapped, [
    { path: 'data.id', field: 'lead.ext_id', reason: 'no value at this path in the response' },
  ])
  const plain = await delivery(text.id)
  t.same(plain.response_mapped, { 'lead.note': 'OK 12345' }, 'a text response maps whole')
  t.equal(plain.response_unmapped, null)

  const refused = await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: ws.auth,
    payload: ruleBody(`${receiver.url}/text`, {
      response: { format: 'text', mapping: [{ path: 'code', field: 'lead.code' }] },
    }),
  })
  t.equal(refused.statusCode, 400, refused.body)
  t.match(refused.json().message, /body\/response\/mapping\/0\/path: a text response has one value/)
})
