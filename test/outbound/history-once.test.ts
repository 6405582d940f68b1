import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { createRule, getDelivery, lead, postEvent, ruleBody, settled } from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'

// A first attempt that succeeds keeps no copy of its request (migrations/0019):
// history renders it again. What it shows must be what the receiver got.
const testApp = await build(t)

t.test(
  'a first success shows the request as sent, after edits, rotation and a resend',
  async (t) => {
    const { app } = testApp
    await startWorkers(t, testApp)
    const receiver = await startReceiver(t)
    const ws = await createWorkspace(app)
    const rule = await createRule(
      app,
      ws,
      ruleBody(`${receiver.url}/hooks?src=crm`, {
        request: {
          method: 'POST',
          url: `${receiver.url}/hooks/{{ lead.id }}?src=crm`,
          body_format: 'json',
          body_pairs: [{ key: 'name', value: '{{ lead.name }}' }],
          headers: [
            { name: 'X-Team', value: 'sales' },
            { name: 'X-Occurred', value: '{{ event.occurred_at }} {{ event.id }}' },
          ],
        },
        auth: { type: 'bearer', token: 'tok-secret' },
      }),
    )
    const { deliveries } = await postEvent(app, ws, 'lead.created', lead({ name: 'Ada' }, 'L-7'))
    const id = deliveries[0] as string
    const first = await settled(app, ws, id)
    t.equal(first.status, 'succeeded')
    const got = receiver.received[0]
    if (!got) throw new Error('nothing received')

    const shown = () => getDelivery(app, ws, id).then((d) => d.attempt_history)
    const expectFirst = (attempt: Awaited<ReturnType<typeof shown>>[number] | undefined) => {
      t.equal(attempt?.attempt, 1)
      t.equal(attempt?.request.method, 'POST')
      t.equal(attempt?.request.url, `${receiver.url}${got.url}`)
      t.equal(attempt?.request.body, got.body)
      t.equal(attempt?.request.headers.authorization, '[redacted]', 'credentials stay masked')
      t.equal(attempt?.request.headers['x-team'], 'sales')
      t.equal(
        attempt?.request.headers['x-occurred'],
        got.headers['x-occurred'],
        'the event as sent',
      )
      for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
        t.equal(attempt?.request.headers[name], got.headers[name], `${name} as sent`)
      }
      t.equal(attempt?.response_status, 200)
      t.equal(attempt?.response_body, '{"ok":true}')
    }
    t.equal(first.attempt_history.length, 1)
    expectFirst(first.attempt_history[0])

    // The rule changes and the signing secret rotates: history still shows what went.
    const patched = await app.inject({
      method: 'PATCH',
      url: `/v1/rules/${rule.id}`,
      headers: ws.auth,
      payload: {
        request: { method: 'PUT', url: `${receiver.url}/other`, body_format: 'json' },
      },
    })
    t.equal(patched.statusCode, 200, patched.body)
    const rotated = await app.inject({
      method: 'POST',
      url: '/v1/settings/signing-secret/rotate',
      headers: ws.auth,
      payload: {},
    })
    t.ok(rotated.statusCode < 300, rotated.body)
    expectFirst((await shown())[0])

    // Sent again: the first attempt stays as it was, the second is the new rule's.
    const resent = await app.inject({
      method: 'POST',
      url: `/v1/deliveries/${id}/resend`,
      headers: ws.auth,
    })
    t.equal(resent.statusCode, 202, resent.body)
    const both = await eventually(async () => {
      const history = await shown()
      return history.length === 2 ? history : undefined
    }, 15_000)
    expectFirst(both[0])
    t.equal(both[1]?.attempt, 2)
    t.equal(both[1]?.request.method, 'PUT')
    t.equal(both[1]?.request.url, `${receiver.url}/other`)
  },
)

t.test('a delivery in flight shows delivering and cannot be cancelled', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  let release: (() => void) | undefined
  const receiver = await startReceiver(t, (_req, res) => {
    release = () => res.writeHead(200).end('ok')
  })
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${receiver.url}/slow`))
  const { deliveries } = await postEvent(app, ws, 'lead.created', lead({ name: 'Bo' }, 'L-8'))
  const id = deliveries[0] as string
  await receiver.waitFor(1, 30_000)
  t.equal((await getDelivery(app, ws, id)).status, 'delivering', 'its job holds it')
  const cancel = await app.inject({
    method: 'POST',
    url: `/v1/deliveries/${id}/cancel`,
    headers: ws.auth,
  })
  t.equal(cancel.statusCode, 409, cancel.body)
  release?.()
  t.equal((await settled(app, ws, id)).status, 'succeeded')
})
