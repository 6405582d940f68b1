import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import {
  createRule,
  type EventAnswer,
  lead,
  pause,
  postEvent,
  ruleBody,
  settled,
} from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

// One app and database for the file; each test has its own workspace, receivers and workers.
const testApp = await build(t)

const qualifiedLater = (url: string) =>
  ruleBody(url, {
    title: 'Call qualified leads after a delay',
    event_types: ['lead.updated'],
    conditions: { all: [{ field: 'lead.status', op: 'equals', value: 'Qualified' }] },
    execution: { delay_seconds: 2 },
  })

t.test('a delayed delivery is cancelled when a newer event no longer matches', async (t) => {
  const { app } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, qualifiedLater(`${receiver.url}/call`))

  const qualified = await postEvent(app, ws, 'lead.updated', lead({ status: 'Qualified' }, 'L-1'))
  t.equal(qualified.deliveries.length, 1)
  const pending = await settled(app, ws, qualified.deliveries[0] as string, 'queued')
  t.ok(pending.next_attempt_at, 'waits for its delay')
  const unqualified = await postEvent(
    app,
    ws,
    'lead.updated',
    lead({ status: 'Unqualified' }, 'L-1'),
  )
  t.same(unqualified.deliveries, [], 'the newer event matches nothing itself')
  // Workers start only now, so both events are in before the delayed one fires.
  await startWorkers(t, testApp)

  const delivery = await settled(app, ws, qualified.deliveries[0] as string)
  t.equal(delivery.status, 'cancelled')
  t.match(delivery.last_error, /newer event/)
  t.ok(delivery.last_error?.includes(unqualified.id), 'the reason names the newer event')
  t.equal(delivery.attempts, 0)
  t.equal(receiver.received.length, 0, 'the receiver saw nothing')
})

t.test('control: a newer event that still matches lets the delayed delivery go', async (t) => {
  const { app } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, qualifiedLater(`${receiver.url}/call`))

  const first = await postEvent(
    app,
    ws,
    'lead.updated',
    lead({ status: 'Qualified', score: 1 }, 'L-1'),
  )
  const second = await postEvent(
    app,
    ws,
    'lead.updated',
    lead({ status: 'Qualified', score: 2 }, 'L-1'),
  )
  // Another record's change says nothing about this one.
  await postEvent(app, ws, 'lead.updated', lead({ status: 'Unqualified' }, 'L-2'))
  await startWorkers(t, testApp)

  const a = await settled(app, ws, first.deliveries[0] as string)
  const b = await settled(app, ws, second.deliveries[0] as string)
  t.equal(a.status, 'succeeded')
  t.equal(b.status, 'succeeded')
  t.equal(receiver.received.length, 2)
})

t.test('the newer-event check holds for events sent together in one batch', async (t) => {
  const { app } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, qualifiedLater(`${receiver.url}/call`))

  // Ten records, each qualified then un-qualified within the same call:
  // the events share a millisecond, and order must still be theirs.
  const events = []
  for (let i = 0; i < 10; i++) {
    events.push(
      { type: 'lead.updated', record: lead({ status: 'Qualified' }, `L-${i}`) },
      { type: 'lead.updated', record: lead({ status: 'Unqualified' }, `L-${i}`) },
    )
  }
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events/batch',
    headers: ws.auth,
    payload: { events },
  })
  t.equal(res.statusCode, 202, res.body)
  const answers = res.json<{ data: EventAnswer[] }>().data
  const ids = answers.map((a) => a.id)
  t.same([...ids].sort(), ids, 'event ids follow the order of the batch')
  const queued = answers.flatMap((a) => a.deliveries)
  t.equal(queued.length, 10)
  await startWorkers(t, testApp)
  for (const id of queued) {
    const delivery = await settled(app, ws, id)
    t.equal(delivery.status, 'cancelled', `${delivery.entity_id} cancelled`)
  }
  t.equal(receiver.received.length, 0)
})

t.test('cancel a queued delayed delivery: it is never sent', async (t) => {
  const { app } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${receiver.url}/later`, { execution: { delay_seconds: 1 } }))
  const event = await postEvent(app, ws, 'lead.created', lead({}))
  const id = event.deliveries[0] as string
  const cancel = await app.inject({
    method: 'POST',
    url: `/v1/deliveries/${id}/cancel`,
    headers: ws.auth,
  })
  t.equal(cancel.statusCode, 200, cancel.body)
  t.match(cancel.json(), { status: 'cancelled', status_label: 'Cancelled' })
  const again = await app.inject({
    method: 'POST',
    url: `/v1/deliveries/${id}/cancel`,
    headers: ws.auth,
  })
  t.equal(again.statusCode, 409, 'only a queued delivery can be cancelled')
  await startWorkers(t, testApp)

  const control = await postEvent(app, ws, 'lead.created', lead({}, 'L-2'))
  await settled(app, ws, control.deliveries[0] as string, 'succeeded')
  await pause(300)
  t.equal(receiver.received.length, 1, 'only the control was sent')
  t.equal(JSON.parse(receiver.received[0]!.body).lead.id, 'L-2')
  t.equal((await settled(app, ws, id)).status, 'cancelled')
})

t.test('a batching window sends a burst of events as one array', async (t) => {
  const { app } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  for (const type of ['note.added', 'note.logged']) {
    await createRule(
      app,
      ws,
      ruleBody(`${receiver.url}/${type}`, {
        event_types: [type],
        request: {
          method: 'POST',
          url: `${receiver.url}/${type}`,
          body_format: 'json',
          body_template: '{"lead": "{{lead.id}}", "note": "{{lead.note}}"}',
        },
        execution: { batch_window_seconds: 1 },
      }),
    )
  }
  // The bursts come in before any worker runs, so the window cannot close on them.
  const answers: EventAnswer[] = []
  for (let i = 0; i < 5; i++) {
    answers.push(await postEvent(app, ws, 'note.added', lead({ note: `n${i} "q"` }, `L-${i}`)))
  }
  // Calls at the same moment must not each open a batch of their own.
  const together = await Promise.all(
    [0, 1, 2, 3, 4].map((i) =>
      postEvent(app, ws, 'note.logged', lead({ note: `m${i}` }, `M-${i}`)),
    ),
  )
  const ids = new Set(answers.flatMap((a) => a.deliveries))
  t.equal(ids.size, 1, 'every event joined the same delivery')
  const togetherIds = new Set(together.flatMap((a) => a.deliveries))
  t.equal(togetherIds.size, 1, 'events sent at the same moment joined one delivery too')
  await startWorkers(t, testApp)

  const delivery = await settled(app, ws, [...ids][0] as string)
  t.equal(delivery.status, 'succeeded')
  await settled(app, ws, [...togetherIds][0] as string, 'succeeded')
  for (const answer of answers) {
    const event = await app.inject({ url: `/v1/events/${answer.id}`, headers: ws.auth })
    t.same(
      event.json().deliveries.map((d: { id: string }) => d.id),
      [delivery.id],
      'every event of the batch shows the delivery that carried it',
    )
  }
  await pause(300)
  const at = (path: string) => receiver.received.filter((r) => r.url === path)
  t.equal(at('/note.added').length, 1, 'one request')
  t.same(
    JSON.parse(at('/note.added')[0]!.body),
    [0, 1, 2, 3, 4].map((i) => ({ lead: `L-${i}`, note: `n${i} "q"` })),
    'a JSON array of the five, in order',
  )
  t.equal(at('/note.logged').length, 1, 'one request for the simultaneous five')
  t.same(
    (JSON.parse(at('/note.logged')[0]!.body) as { lead: string }[]).map((r) => r.lead).sort(),
    ['M-0', 'M-1', 'M-2', 'M-3', 'M-4'],
  )

  const later = await postEvent(app, ws, 'note.added', lead({ note: 'after' }, 'L-9'))
  t.notOk(ids.has(later.deliveries[0] as string), 'a sent batch is closed; a new one opens')
  await settled(app, ws, later.deliveries[0] as string, 'succeeded')
  t.same(JSON.parse(at('/note.added')[1]!.body), [{ lead: 'L-9', note: 'after' }])
})
