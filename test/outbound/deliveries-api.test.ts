import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import {
  createRule,
  type DeliveryJson,
  getDelivery,
  lead,
  pause,
  postEvent,
  ruleBody,
  settled,
  type Workspace,
} from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

// One app and database for the file; each test has its own workspace, receivers and workers.
const testApp = await build(t)

async function list(app: FastifyInstance, ws: Workspace, query: string) {
  const res = await app.inject({ url: `/v1/deliveries?${query}`, headers: ws.auth })
  if (res.statusCode !== 200) throw new Error(`list: ${res.body}`)
  return res.json<{ data: DeliveryJson[]; next_cursor: string | null }>()
}

t.test('history: filters, default window, newest first, cursor', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t, (req, res) =>
    res.writeHead(req.body.includes('L-bad') ? 500 : 200).end(),
  )
  const ws = await createWorkspace(app)
  const ruleA = await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/a`, {
      event_types: ['lead.created'],
      execution: { max_attempts: 1 },
    }),
  )
  const ruleB = await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/b`, {
      event_types: ['lead.updated'],
      execution: { max_attempts: 1 },
    }),
  )

  const early: string[] = []
  for (const id of ['L-1', 'L-2', 'L-bad']) {
    early.push(...(await postEvent(app, ws, 'lead.created', lead({}, id))).deliveries)
  }
  await pause(50)
  const middle = new Date().toISOString()
  await pause(50)
  const late: string[] = []
  for (const id of ['L-1', 'L-3']) {
    late.push(...(await postEvent(app, ws, 'lead.updated', lead({}, id))).deliveries)
  }
  const all = [...early, ...late]
  for (const id of all) await settled(app, ws, id)

  const ids = async (query: string) => (await list(app, ws, query)).data.map((d) => d.id)
  t.same(await ids(''), [...all].sort().reverse(), 'newest first')
  t.same((await ids(`rule_id=${ruleA.id}`)).sort(), [...early].sort())
  t.same((await ids(`rule_id=${ruleB.id}`)).sort(), [...late].sort())
  t.same(await ids('status=failed'), [early[2]])
  t.same((await ids('status=succeeded')).length, 4)
  t.same((await ids('event_type=lead.updated')).sort(), [...late].sort())
  t.same((await ids('entity_id=L-1')).sort(), [early[0], late[0]].sort())
  t.same((await ids(`since=${middle}`)).sort(), [...late].sort(), 'since')
  t.same((await ids(`until=${middle}`)).sort(), [...early].sort(), 'until')
  t.same(
    await ids(`rule_id=${ruleA.id}&status=succeeded&entity_id=L-2`),
    [early[1]],
    'filters combine',
  )
  t.same(await ids('kind=notice'), [])

  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page = await list(app, ws, `limit=2${cursor ? `&cursor=${cursor}` : ''}`)
    t.ok(page.data.length <= 2)
    seen.push(...page.data.map((d) => d.id))
    cursor = page.next_cursor
  } while (cursor)
  t.same(seen, [...all].sort().reverse(), 'the cursor visits each delivery once, in order')

  // An old delivery is outside the default window of 7 days.
  await testApp.database.pool.query(
    `update deliveries set created_at = now() - interval '8 days' where id = $1`,
    [early[0]],
  )
  t.notOk((await ids('')).includes(early[0] as string), 'older than 7 days: not listed by default')
  const longAgo = new Date(Date.now() - 10 * 86_400_000).toISOString()
  t.ok((await ids(`since=${longAgo}`)).includes(early[0] as string), 'listed when asked for')
  t.equal(
    (await app.inject({ url: '/v1/deliveries?since=yesterday', headers: ws.auth })).statusCode,
    400,
  )
})

t.test('resend keeps the webhook-id and gives a fresh set of tries', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  let failing = true
  const receiver = await startReceiver(t, (_req, res) => res.writeHead(failing ? 500 : 200).end())
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${receiver.url}/x`, { execution: { max_attempts: 1 } }))
  const event = await postEvent(app, ws, 'lead.created', lead({}))
  const id = event.deliveries[0] as string
  t.match(await settled(app, ws, id), { status: 'failed', attempts: 1, max_attempts: 1 })

  const resend = () =>
    app.inject({ method: 'POST', url: `/v1/deliveries/${id}/resend`, headers: ws.auth })
  const first = await resend()
  t.equal(first.statusCode, 202, first.body)
  t.match(first.json(), { id, status: 'queued', attempts: 1, max_attempts: 2, last_error: null })
  t.match(await settled(app, ws, id), { status: 'failed', attempts: 2 })

  const second = await resend()
  t.equal(second.statusCode, 202)
  t.match(
    second.json(),
    { attempts: 2, max_attempts: 3 },
    'one more try, as the rule says, not twice as many as before',
  )
  t.match(await settled(app, ws, id), { status: 'failed', attempts: 3, max_attempts: 3 })

  failing = false
  await resend()
  const done = await settled(app, ws, id)
  t.match(done, { status: 'succeeded', attempts: 4, last_error: null })
  t.equal(done.attempt_history.length, 4, 'every attempt stays in history')
  t.equal(receiver.received.length, 4)
  t.same(
    new Set(receiver.received.map((r) => r.headers['webhook-id'])),
    new Set([id]),
    'every send carries the same webhook-id',
  )

  const again = await resend()
  t.equal(again.statusCode, 202, 'a succeeded delivery can be sent again too')
  await settled(app, ws, id, 'succeeded')
  t.equal(receiver.received.length, 5)

  const queued = await postEvent(app, ws, 'lead.created', lead({}, 'L-2'))
  const cancelFinished = await app.inject({
    method: 'POST',
    url: `/v1/deliveries/${id}/cancel`,
    headers: ws.auth,
  })
  t.equal(cancelFinished.statusCode, 409, 'a finished delivery cannot be cancelled')
  await settled(app, ws, queued.deliveries[0] as string)
})

t.test('retry-failed resends the failed deliveries of a rule in a time range', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  let failing = true
  const receiver = await startReceiver(t, (_req, res) => res.writeHead(failing ? 500 : 200).end())
  const ws = await createWorkspace(app)
  const rule = await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/x`, { execution: { max_attempts: 1 } }),
  )
  await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/y`, { event_types: ['lead.other'], execution: { max_attempts: 1 } }),
  )
  const ids: string[] = []
  for (const entity of ['L-1', 'L-2', 'L-3']) {
    ids.push(...(await postEvent(app, ws, 'lead.created', lead({}, entity))).deliveries)
  }
  const otherId = (await postEvent(app, ws, 'lead.other', lead({}))).deliveries[0] as string
  for (const id of [...ids, otherId]) await settled(app, ws, id, 'failed')
  await testApp.database.pool.query(
    `update deliveries set created_at = now() - interval '2 days' where id = $1`,
    [ids[0]],
  )

  failing = false
  const since = new Date(Date.now() - 86_400_000).toISOString()
  const res = await app.inject({
    method: 'POST',
    url: '/v1/deliveries/retry-failed',
    headers: ws.auth,
    payload: { rule_id: rule.id, since },
  })
  t.equal(res.statusCode, 202, res.body)
  t.same(res.json(), { retried: 2, delivery_ids: [ids[1], ids[2]] })
  for (const id of ids.slice(1)) t.equal((await settled(app, ws, id, 'succeeded')).attempts, 2)
  await pause(300)
  t.equal((await getDelivery(app, ws, ids[0] as string)).status, 'failed', 'outside the range')
  t.equal((await getDelivery(app, ws, otherId)).status, 'failed', 'another rule’s')

  const none = await app.inject({
    method: 'POST',
    url: '/v1/deliveries/retry-failed',
    headers: ws.auth,
    payload: { rule_id: rule.id, since, until: since },
  })
  t.same(none.json(), { retried: 0, delivery_ids: [] })
  const unknown = await app.inject({
    method: 'POST',
    url: '/v1/deliveries/retry-failed',
    headers: ws.auth,
    payload: { rule_id: 'rul_00000000000000000000000000', since },
  })
  t.equal(unknown.statusCode, 404)
})
