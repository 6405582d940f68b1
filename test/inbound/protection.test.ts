import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { callOf, createHandler, listen, send } from '../helpers/inbound.js'

const form = { 'content-type': 'application/x-www-form-urlencoded' }

t.test(
  'conditions: a call that does not match is filtered, answered as configured, not forwarded',
  async (t) => {
    const { app } = await build(t)
    const ws = await createWorkspace(app)
    const base = await listen(t, app)
    const handler = await createHandler(app, ws.auth, {
      title: 'Acme or named',
      parameters: [
        { name: 'email', type: 'email', required: false },
        { name: 'fullname', type: 'string', required: false },
      ],
      mapping: [{ source: 'email', target: 'lead.email' }],
      // The seed's example: "leadliaison" in the email, or a full name.
      conditions: {
        any: [
          { field: 'email', op: 'contains', value: 'acme' },
          { field: 'fullname', op: 'is_not_empty' },
        ],
      },
      response: {
        status: 202,
        content_type: 'text/plain',
        body_template: 'thanks {{ params.email }}',
      },
    })
    const url = `${base}${handler.path}`
    const matched = await send(url, { headers: form, body: 'email=ann@acme.example' })
    t.equal(matched.status, 202)
    t.equal(matched.text, 'thanks ann@acme.example')
    t.match(matched.headers['content-type'], /^text\/plain/)
    t.equal((await callOf(app, ws.auth, matched)).outcome, 'accepted')

    const named = await send(url, { headers: form, body: 'email=bob@other.example&fullname=Bob' })
    t.equal((await callOf(app, ws.auth, named)).outcome, 'accepted')

    const filtered = await send(url, { headers: form, body: 'email=carl@other.example' })
    t.equal(
      filtered.status,
      202,
      'filtered calls get the configured answer, so senders do not retry',
    )
    t.equal(filtered.text, 'thanks carl@other.example')
    t.match(await callOf(app, ws.auth, filtered), {
      outcome: 'filtered',
      reason: 'the conditions did not match',
      response_status: 202,
      parameters: { email: 'carl@other.example' },
      record: null,
      forwarded: { notice_delivery_id: null },
    })
  },
)

t.test('protection period: identical calls are duplicates, also when they race', async (t) => {
  const { app, database } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, {
    title: 'Dialer results',
    parameters: [
      { name: 'phone', type: 'phone', required: true },
      { name: 'attempt', type: 'number', required: false },
    ],
    mapping: [{ source: 'phone', target: 'lead.phone' }],
    protection: { period_seconds: 60, parameters: ['phone'] },
  })
  const url = `${base}${handler.path}`
  const first = await send(url, { headers: form, body: 'phone=%2B1+555+010+9999&attempt=1' })
  t.equal(first.status, 200)
  t.equal((await callOf(app, ws.auth, first)).outcome, 'accepted')

  // Only the chosen parameters count: another attempt number, the same phone (normalised).
  const again = await send(url, { headers: form, body: 'attempt=2&phone=%2B15550109999' })
  t.equal(again.status, 200, 'answered like the first')
  t.same(again.json(), first.json())
  t.match(await callOf(app, ws.auth, again), {
    outcome: 'duplicate',
    reason: 'identical to a call within the 60 s protection period',
    forwarded: { notice_delivery_id: null },
  })
  const other = await send(url, { headers: form, body: 'phone=%2B15550100000' })
  t.equal((await callOf(app, ws.auth, other)).outcome, 'accepted', 'another phone is another call')

  const race = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      send(url, { headers: form, body: `phone=%2B1555777000${i % 2}&attempt=${i}` }),
    ),
  )
  t.ok(race.every((r) => r.status === 200))
  const outcomes = await Promise.all(
    race.map((r) => callOf(app, ws.auth, r).then((c) => c.outcome)),
  )
  t.equal(
    outcomes.filter((o) => o === 'accepted').length,
    2,
    'one accepted per distinct phone among 20 racing calls',
  )
  t.equal(outcomes.filter((o) => o === 'duplicate').length, 18)

  const notices = await database.db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('workspace_id', '=', ws.id)
    .where('kind', '=', 'notice')
    .executeTakeFirstOrThrow()
  t.equal(notices.n, 4, 'exactly one notice per accepted call')

  // After the period the phone is new again (the period is moved back rather than waited out).
  await database.db
    .updateTable('inbound_claims')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .execute()
  const later = await send(url, { headers: form, body: 'phone=%2B15550109999' })
  t.equal((await callOf(app, ws.auth, later)).outcome, 'accepted', 'an expired claim is taken over')
})

t.test(
  'an inactive handler records calls as inactive, answers 503 and forwards nothing',
  async (t) => {
    const { app } = await build(t)
    const ws = await createWorkspace(app)
    const base = await listen(t, app)
    const handler = await createHandler(app, ws.auth, {
      title: 'Paused',
      mapping: [{ source: 'email', target: 'lead.email' }],
    })
    const url = `${base}${handler.path}`
    const off = await app.inject({
      method: 'POST',
      url: `/v1/handlers/${handler.id}/disable`,
      headers: ws.auth,
    })
    t.equal(off.json().active, false)
    const paused = await send(url, { headers: form, body: 'email=a@example.com' })
    t.equal(paused.status, 503)
    t.equal(paused.json().code, 'handler_inactive')
    t.match(await callOf(app, ws.auth, paused), {
      outcome: 'inactive',
      response_status: 503,
      request: { body: 'email=a@example.com' },
      forwarded: { notice_delivery_id: null },
    })
    await app.inject({ method: 'POST', url: `/v1/handlers/${handler.id}/enable`, headers: ws.auth })
    const back = await send(url, { headers: form, body: 'email=a@example.com' })
    t.equal(back.status, 200, 'enabled again, at once')
  },
)

t.test('two transactions claiming one key at once: exactly one forwards', async (t) => {
  const { app, database, box } = await build(t)
  const ws = await createWorkspace(app)
  const created = await createHandler(app, ws.auth, {
    title: 'Race',
    mapping: [{ source: 'email', target: 'lead.email' }],
    protection: { period_seconds: 60 },
  })
  const { loadHandler } = await import('../../src/inbound/loaded-handler.js')
  const { settleBatch } = await import('../../src/inbound/settle.js')
  const row = await database.db
    .selectFrom('handlers')
    .selectAll()
    .where('id', '=', created.id)
    .executeTakeFirstOrThrow()
  const handler = loadHandler(row, box)
  const item = (callId: string) => ({
    callId,
    handler,
    receivedAt: new Date(),
    replayKey: null,
    replayTtlSeconds: 660,
    dedupeKey: 'd:same',
    forward: {
      call: {
        id: callId,
        workspace_id: ws.id,
        handler_id: handler.id,
        method: 'POST',
        headers: '{}',
        query: '{}',
        body_size: 0,
        source_address: '127.0.0.1',
        received_at: new Date(),
        outcome: 'received' as const,
      },
      record: { lead: { email: 'a@example.com' } },
    },
    responseStatus: 200,
  })
  // Separate batches, so separate transactions on separate connections: the database decides.
  const results = await Promise.all(
    Array.from({ length: 6 }, (_, i) => settleBatch(database.db, [item(`cal_race${i}`)])),
  )
  const outcomes = results.map(([r]) => r?.outcome).sort()
  t.same(outcomes, ['accepted', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate'])
  const logged = await database.db
    .selectFrom('inbound_calls')
    .select(['outcome', 'notice_delivery_id'])
    .where('handler_id', '=', handler.id)
    .execute()
  t.same(logged.map((c) => c.outcome).sort(), outcomes, 'each call is in the log with its outcome')
  t.equal(logged.filter((c) => c.notice_delivery_id !== null).length, 1, 'one notice queued')
})
