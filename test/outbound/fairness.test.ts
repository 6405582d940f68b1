import type { ServerResponse } from 'node:http'
import t from 'tap'
import type { RuleView } from '../../src/schemas/rules.js'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import {
  createRule,
  type DeliveryJson,
  type EventAnswer,
  lead,
  pause,
  ruleBody,
  type Workspace,
} from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'

// One app and database for the file; each test has its own workspaces, receivers and workers.
// Ten workers: a rule may hold two of them at once, a host three, a workspace five.
const testApp = await build(t, { workerConcurrency: 10 })

/** Posts `n` events of `type` for `ws`; answers the deliveries queued. */
const send = async (ws: Workspace, type: string, n: number) => {
  const events = Array.from({ length: n }, (_, i) => ({ type, record: lead({}, `L-${i}`) }))
  const res = await testApp.app.inject({
    method: 'POST',
    url: '/v1/events/batch',
    headers: ws.auth,
    payload: { events },
  })
  return res.json<{ data: EventAnswer[] }>().data.flatMap((e) => e.deliveries)
}
const statuses = async (ws: Workspace, ruleId: string) => {
  const res = await testApp.app.inject({
    url: `/v1/deliveries?rule_id=${ruleId}&limit=200`,
    headers: ws.auth,
  })
  return res.json<{ data: DeliveryJson[] }>().data.map((d) => d.status)
}
const allSucceeded = async (ws: Workspace, ruleId: string, n: number) => {
  const list = await statuses(ws, ruleId)
  return list.length === n && list.every((s) => s === 'succeeded')
}

t.test('a hanging receiver does not hold up other rules and workspaces', async (t) => {
  const { app } = testApp
  const hanging = await startReceiver(t, () => {}) // never answers
  const fast = await startReceiver(t)
  const a = await createWorkspace(app, 'A')
  const b = await createWorkspace(app, 'B')

  const stuck = await createRule(
    app,
    a,
    ruleBody(`${hanging.url}/hang`, {
      title: 'stuck',
      event_types: ['lead.stuck'],
      execution: { timeout_ms: 3000, max_attempts: 1 },
    }),
  )
  const sameWorkspace = await createRule(
    app,
    a,
    ruleBody(`${fast.url}/a`, { title: 'neighbour', event_types: ['lead.neighbour'] }),
  )
  const otherWorkspace = await createRule(
    app,
    b,
    ruleBody(`${fast.url}/b`, { title: 'other tenant', event_types: ['lead.other'] }),
  )

  // The stuck rule's deliveries are queued first, so they are ahead in the queue.
  const stuckIds = await send(a, 'lead.stuck', 50)
  const neighbourIds = await send(a, 'lead.neighbour', 5)
  const otherIds = await send(b, 'lead.other', 5)
  t.equal(stuckIds.length, 50)

  await startWorkers(t, testApp)

  await eventually(() => allSucceeded(b, otherWorkspace.id, 5), 30_000)
  await eventually(() => allSucceeded(a, sameWorkspace.id, 5), 30_000)
  const stuckNow = await statuses(a, stuck.id)
  const pending = stuckNow.filter((s) => s === 'queued' || s === 'delivering').length
  t.ok(
    pending >= 40,
    `the other rules finished while the stuck rule still had ${pending} of 50 pending`,
  )
  t.equal(fast.received.length, 10)
  t.ok(hanging.received.length <= 10, 'the stuck rule holds few connections at a time')
  t.ok(neighbourIds.length === 5 && otherIds.length === 5)
})

t.test('deliveries cancelled while they wait for a slot stay cancelled', async (t) => {
  const { app } = testApp
  const hanging = await startReceiver(t, () => {})
  const ws = await createWorkspace(app)
  const rule = await createRule(
    app,
    ws,
    ruleBody(`${hanging.url}/hang`, { execution: { timeout_ms: 3000, max_attempts: 1 } }),
  )
  const events = Array.from({ length: 40 }, (_, i) => ({
    type: 'lead.created',
    record: lead({}, `L-${i}`),
  }))
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events/batch',
    headers: ws.auth,
    payload: { events },
  })
  const ids = res.json<{ data: EventAnswer[] }>().data.flatMap((e) => e.deliveries)
  await startWorkers(t, testApp)
  // Two are in flight; the others bounce between workers, put off while the rule is at its cap.
  await eventually(() => hanging.received.length >= 2)
  await pause(500)

  // One after another, so the cancels land all through the deliveries' put-off cycles.
  const cancelled: string[] = []
  const refused: string[] = []
  for (const id of ids) {
    const cancel = await app.inject({
      method: 'POST',
      url: `/v1/deliveries/${id}/cancel`,
      headers: ws.auth,
    })
    if (cancel.statusCode === 200) cancelled.push(id)
    else if (cancel.statusCode !== 409) refused.push(cancel.body)
  }
  t.same(refused, [], 'each cancelled, or refused (409) because it has started')
  // A delivery whose job a worker holds (leased, in its buffer or waiting for
  // a slot) is in flight and refuses; enough others wait unleased to cancel.
  t.ok(cancelled.length >= 5, `${cancelled.length} cancelled`)
  await pause(1500)
  const list = await app.inject({
    url: `/v1/deliveries?rule_id=${rule.id}&limit=200`,
    headers: ws.auth,
  })
  const byId = new Map(list.json<{ data: DeliveryJson[] }>().data.map((d) => [d.id, d]))
  const revived = cancelled.filter((id) => byId.get(id)?.status !== 'cancelled')
  t.same(revived, [], 'no cancelled delivery came back to the queue')
  const sent = new Set(hanging.received.map((r) => r.headers['webhook-id']))
  t.same(
    cancelled.filter((id) => sent.has(id)),
    [],
    'no cancelled delivery was sent',
  )
})

t.test('a rate limit paces its rule, and its burst does not hold up others', async (t) => {
  const { app, database } = testApp
  const RATE = 20
  const BURST = 160
  const arrivals: { path: string; at: number }[] = []
  const receiver = await startReceiver(t, (req, res) => {
    arrivals.push({ path: req.url, at: Date.now() })
    res.writeHead(200).end('ok')
  })
  const limitedSeen = () => arrivals.filter((x) => x.path === '/limited')
  const a = await createWorkspace(app, 'A')
  const b = await createWorkspace(app, 'B')
  const limited = await createRule(
    app,
    a,
    ruleBody(`${receiver.url}/limited`, {
      title: 'limited',
      event_types: ['lead.burst'],
      execution: { rate_limit_per_second: RATE },
    }),
  )
  await createRule(
    app,
    b,
    ruleBody(`${receiver.url}/other`, { title: 'other', event_types: ['lead.other'] }),
  )
  const burst = Array.from({ length: BURST }, (_, i) => ({
    type: 'lead.burst',
    record: lead({}, `B-${i}`),
  }))
  const posted = await app.inject({
    method: 'POST',
    url: '/v1/events/batch',
    headers: a.auth,
    payload: { events: burst },
  })
  t.equal(posted.statusCode, 202, 'the burst is accepted')
  await startWorkers(t, testApp)

  // Past what the worker already holds in its buffer, the burst waits in the
  // queue spaced at the rate (one job every 1/RATE s), instead of cycling
  // through the claim to be deferred job by job. A job deferred on its own
  // waits half a second at most, so a job due more than a second ahead was
  // spaced. The spacing moves the backlog in one statement: read it as soon
  // as it shows, since on a loaded host a late look finds fewer jobs ahead.
  const rows = await eventually(async () => {
    const { rows } = await database.pool.query<{ run_at: Date }>(
      `select j.run_at from jobs j join deliveries d on d.job_id = j.id
       where d.rule_id = $1 and d.status = 'queued' and j.run_at > now() + interval '1 second'
       order by j.run_at`,
      [limited.id],
    )
    return rows.length > 0 && rows
  }, 30_000)
  t.ok(rows.length >= BURST / 2, `most of the burst is scheduled ahead (${rows.length} jobs)`)
  const gaps = rows.slice(1).map((r, i) => r.run_at.getTime() - rows[i]!.run_at.getTime())
  const spaced = gaps.filter((gap) => gap >= (1000 / RATE) * 0.9)
  t.ok(spaced.length >= gaps.length * 0.9, `spaced at the rate: ${gaps.join(',')}`)

  await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: b.auth,
    payload: { type: 'lead.other', record: lead({}, 'O-1') },
  })
  await eventually(() => arrivals.some((x) => x.path === '/other'), 30_000)
  t.ok(limitedSeen().length < BURST, 'the other workspace was served while the burst went on')

  await eventually(() => limitedSeen().length === BURST, 60_000)
  const times = limitedSeen().map((x) => x.at)
  // The token bucket starts full: RATE at once, then RATE more a second (one
  // of slack for rounding). Times are taken at the receiver, and the first
  // request also opened the connection: a late first arrival would make the
  // ones after it look early, so each may be up to JITTER_MS early. Without
  // the limit, the burst would be seconds ahead.
  const JITTER_MS = 250
  const first = times[0]!
  const ahead = times.filter(
    (at, i) => i + 1 > RATE + Math.floor(((at - first + JITTER_MS) / 1000) * RATE) + 1,
  )
  t.same(ahead, [], 'never ahead of the rate')
})

t.test('rules of several workspaces at one hanging host hold only its share', async (t) => {
  const { app, config } = testApp
  const hostCap = config.workerConcurrencyPerHost
  t.equal(hostCap, 3, 'a third of the ten workers')
  const held: ServerResponse[] = []
  const hanging = await startReceiver(t, (_req, res) => held.push(res)) // never answers
  const healthy = await startReceiver(t) // another port of 127.0.0.1: another host
  const a = await createWorkspace(app, 'A')
  const b = await createWorkspace(app, 'B')
  const c = await createWorkspace(app, 'C')

  // Three rules in each of A and B at the hanging host: under their rule and
  // workspace caps alone they would hold five slots each, all ten between
  // them, until their sends time out (a minute, longer than this test waits).
  const stuck: { ws: Workspace; rule: RuleView }[] = []
  for (const ws of [a, b]) {
    for (let i = 0; i < 3; i++) {
      const body = ruleBody(`${hanging.url}/${ws.id}/${i}`, {
        title: `stuck ${i}`,
        event_types: ['lead.stuck'],
        execution: { timeout_ms: 60_000, max_attempts: 1 },
      })
      stuck.push({ ws, rule: await createRule(app, ws, body) })
    }
  }
  const neighbour = await createRule(
    app,
    a,
    ruleBody(`${healthy.url}/a`, { title: 'neighbour', event_types: ['lead.neighbour'] }),
  )
  const otherTenant = await createRule(
    app,
    c,
    ruleBody(`${healthy.url}/c`, { title: 'other tenant', event_types: ['lead.other'] }),
  )
  // The hanging host's deliveries are queued first, so they are ahead in the queue.
  const stuckIds = [...(await send(a, 'lead.stuck', 4)), ...(await send(b, 'lead.stuck', 4))]
  t.equal(stuckIds.length, 24)
  await send(a, 'lead.neighbour', 5)
  await send(c, 'lead.other', 5)

  await startWorkers(t, testApp)
  // Stopping, the workers wait for their sends: the hanging ones are cut first.
  t.teardown(() => {
    for (const res of held) res.destroy()
  })
  await eventually(() => hanging.open() >= hostCap)
  await eventually(async () => {
    return (await allSucceeded(a, neighbour.id, 5)) && (await allSucceeded(c, otherTenant.id, 5))
  }, 30_000)
  t.equal(healthy.received.length, 10, 'the healthy host was served')
  t.equal(hanging.mostOpen(), hostCap, 'the hanging host never held more than its cap')
  let pending = 0
  for (const { ws, rule } of stuck) {
    const list = await statuses(ws, rule.id)
    pending += list.filter((s) => s === 'queued' || s === 'delivering').length
  }
  t.equal(pending, 24, 'none of the hanging host’s sends had timed out meanwhile')
})
