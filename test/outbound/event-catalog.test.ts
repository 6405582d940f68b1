import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { createRule, lead, postEvent, settled, type Workspace } from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

// One app and database for the file; each test has its own workspace and receiver.
const testApp = await build(t)

async function defineType(ws: Workspace, name: string, archived = false) {
  const res = await testApp.app.inject({
    method: 'PUT',
    url: `/v1/event-types/${name}`,
    headers: ws.auth,
    payload: { description: name, archived },
  })
  if (res.statusCode >= 300) throw new Error(`event type: ${res.statusCode} ${res.body}`)
}

const postRaw = (ws: Workspace, url: string, payload: unknown) =>
  testApp.app.inject({ method: 'POST', url, headers: ws.auth, payload: payload as object })

t.test('with a catalog, an unknown or archived event type is refused, naming it', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await defineType(ws, 'lead.created')
  await defineType(ws, 'lead.retired')
  await createRule(app, ws, {
    title: 'all leads',
    event_types: ['lead.created', 'lead.retired'],
    request: { method: 'POST', url: `${receiver.url}/in`, body_format: 'json' },
  })
  await defineType(ws, 'lead.retired', true)

  const typo = await postRaw(ws, '/v1/events', { type: 'lead.craeted', record: lead({}) })
  t.equal(typo.statusCode, 400, typo.body)
  t.equal(typo.json().code, 'validation_failed')
  t.match(typo.json().message, /^type: unknown event type "lead\.craeted"/)

  const retired = await postRaw(ws, '/v1/events', { type: 'lead.retired', record: lead({}) })
  t.equal(retired.statusCode, 400, retired.body)
  t.match(retired.json().message, /^type: event type "lead\.retired" is archived/)
  t.notMatch(retired.json().message, /unknown/, 'archived, not unknown')

  const batch = await postRaw(ws, '/v1/events/batch', {
    events: [
      { type: 'lead.created', record: lead({}, 'B-0') },
      { type: 'lead.craeted', record: lead({}, 'B-1') },
      { type: 'lead.retired', record: lead({}, 'B-2') },
      { type: 'lead.craeted', record: lead({}, 'B-3') },
    ],
  })
  t.equal(batch.statusCode, 400, batch.body)
  const message: string = batch.json().message
  t.match(message, /unknown event type "lead\.craeted" at events\/1\/type, events\/3\/type/)
  t.match(message, /event type "lead\.retired" is archived at events\/2\/type/)
  t.notMatch(message, /events\/0\//, 'the good event is not named')

  // Nothing of the refused calls was recorded or sent: the one good event
  // sent now is the receiver's first request.
  const good = await postEvent(app, ws, 'lead.created', lead({}, 'L-ok'))
  await settled(app, ws, good.deliveries[0] as string, 'succeeded')
  t.equal(receiver.received.length, 1)
  t.equal(JSON.parse(receiver.received[0]?.body ?? '{}').lead.id, 'L-ok')
  const history = await app.inject({ url: '/v1/deliveries', headers: ws.auth })
  t.equal(history.json().data.length, 1, 'the refused events queued nothing')
})

t.test('without a catalog any event type is taken', async (t) => {
  const ws = await createWorkspace(testApp.app)
  const res = await postRaw(ws, '/v1/events', { type: 'anything.goes', record: lead({}) })
  t.equal(res.statusCode, 202, res.body)
})
