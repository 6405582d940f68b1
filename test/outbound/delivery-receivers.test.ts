import type { ServerResponse } from 'node:http'
import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import {
  createRule,
  lead,
  type Notice,
  postEvent,
  ruleBody,
  setCallback,
  settled,
  signingSecret,
  verifyStandardWebhook,
} from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

const LIMIT = 1024
// One app and database for the file; each test has its own workspace, receivers and workers.
const testApp = await build(t, { responseBodyLimitBytes: LIMIT })

t.test('redirects, huge bodies, trickling and silent receivers', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const timers: NodeJS.Timeout[] = []
  t.teardown(() => {
    for (const timer of timers) clearInterval(timer)
  })
  const receiver = await startReceiver(t, (req, res) => {
    switch (req.url) {
      case '/redirect':
        return res.writeHead(302, { location: '/target' }).end()
      case '/huge':
        res.writeHead(200, { 'content-type': 'text/plain' })
        return res.end('é'.repeat(100_000))
      case '/trickle': {
        // Headers at once, then a byte every 100 ms: never done within the timeout.
        res.writeHead(200, { 'content-type': 'text/plain' })
        timers.push(setInterval(() => res.write('.'), 100))
        return
      }
      case '/silent':
        return // never answers
      default:
        return res.writeHead(200).end('ok')
    }
  })
  const ws = await createWorkspace(app)
  for (const name of ['redirect', 'huge', 'trickle', 'silent']) {
    await createRule(
      app,
      ws,
      ruleBody(`${receiver.url}/${name}`, {
        title: name,
        event_types: [`lead.${name}`],
        execution: { max_attempts: 1, timeout_ms: 1000 },
      }),
    )
  }
  const ids: Record<string, string> = {}
  for (const name of ['redirect', 'huge', 'trickle', 'silent']) {
    ids[name] = (await postEvent(app, ws, `lead.${name}`, lead({}))).deliveries[0] as string
  }

  const redirect = await settled(app, ws, ids.redirect as string)
  t.match(redirect, { status: 'failed', response_status: 302, last_error: /302/ })
  t.equal(redirect.attempt_history[0]?.response_headers?.location, '/target')
  t.notOk(
    receiver.received.some((r) => r.url === '/target'),
    'the redirect is not followed',
  )

  const huge = await settled(app, ws, ids.huge as string)
  t.match(huge, { status: 'succeeded', response_status: 200 })
  const stored = huge.attempt_history[0]?.response_body ?? ''
  t.ok(Buffer.byteLength(stored) <= LIMIT, 'the stored body is cut at the limit')
  t.ok(stored.length > 100, 'and keeps what came before it')
  t.ok(stored.startsWith('éééé'))

  for (const name of ['trickle', 'silent']) {
    const delivery = await settled(app, ws, ids[name] as string)
    t.match(
      delivery,
      { status: 'failed', response_status: null, last_error: /timed out|timeout/i },
      `${name}: ends at the rule's timeout with an error`,
    )
    t.match(delivery.attempt_history[0], { response_status: null, error: /timed out|timeout/i })
  }
})

const respond = (type: string, body: string) => (res: ServerResponse) => {
  res.writeHead(200, { 'content-type': type })
  res.end(body)
}

t.test('response mapping (JSON, XML, form) is stored and pushed as record.update', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const answers: Record<string, (res: ServerResponse) => void> = {
    '/json': respond('application/json', '{"data":{"id":"D-77","tags":["a","b"]},"ok":true}'),
    '/xml': respond(
      'application/xml',
      '<?xml version="1.0"?><result><id>X-9</id><owner name="Ada &amp; co"/></result>',
    ),
    '/form': respond('application/x-www-form-urlencoded', 'ref=F+12&status=new%20lead'),
    '/unmapped': respond('application/json', '{"nothing":"here"}'),
  }
  const receiver = await startReceiver(t, (req, res) => answers[req.url]?.(res))
  const crm = await startReceiver(t)
  const ws = await createWorkspace(app)
  await setCallback(app, ws, `${crm.url}/crm`)

  const rules = {
    json: {
      format: 'json',
      mapping: [
        { path: 'data.id', field: 'lead.dialer_id' },
        { path: 'data.tags.1', field: 'lead.second_tag' },
        { path: 'ok', field: 'lead.synced' },
        { path: 'data.missing', field: 'lead.never' },
      ],
    },
    xml: {
      format: 'xml',
      mapping: [
        { path: 'result.id', field: 'lead.remote_id' },
        { path: 'result.owner.@name', field: 'lead.owner' },
      ],
    },
    form: {
      format: 'form',
      mapping: [
        { path: 'ref', field: 'lead.ref' },
        { path: 'status', field: 'lead.remote_status' },
      ],
    },
    unmapped: { format: 'json', mapping: [{ path: 'data.id', field: 'lead.dialer_id' }] },
  }
  const deliveries: Record<string, string> = {}
  for (const [name, response] of Object.entries(rules)) {
    await createRule(
      app,
      ws,
      ruleBody(`${receiver.url}/${name}`, { event_types: [`lead.${name}`], response }),
    )
    const event = await postEvent(app, ws, `lead.${name}`, lead({}, `L-${name}`))
    deliveries[name] = event.deliveries[0] as string
  }

  const expected = {
    json: { 'lead.dialer_id': 'D-77', 'lead.second_tag': 'b', 'lead.synced': true },
    xml: { 'lead.remote_id': 'X-9', 'lead.owner': 'Ada & co' },
    form: { 'lead.ref': 'F 12', 'lead.remote_status': 'new lead' },
  }
  for (const [name, mapped] of Object.entries(expected)) {
    const delivery = await settled(app, ws, deliveries[name] as string, 'succeeded')
    t.same(delivery.response_mapped, mapped, `${name}: mapped values stored on the delivery`)
  }
  const unmapped = await settled(app, ws, deliveries.unmapped as string, 'succeeded')
  t.notOk(
    unmapped.response_mapped && Object.keys(unmapped.response_mapped).length,
    'nothing mapped',
  )

  await crm.waitFor(3)
  const secret = await signingSecret(app, ws)
  const notices = crm.received.map((r) => {
    t.ok(verifyStandardWebhook(secret, r), 'signed')
    return JSON.parse(r.body) as Notice
  })
  t.equal(notices.length, 3, 'one notice per delivery that mapped something')
  for (const [name, mapped] of Object.entries(expected)) {
    const notice = notices.find((n) => n.data.entity_id === `L-${name}`)
    t.equal(notice?.type, 'record.update')
    t.match(notice?.data, {
      delivery_id: deliveries[name],
      entity_type: 'lead',
      entity_id: `L-${name}`,
    })
    t.same(notice?.data.fields, mapped, `${name}: the notice carries the mapped fields`)
  }
})
