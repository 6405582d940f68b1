import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createHandler, listen, send } from '../helpers/inbound.js'
import { mixedHandler } from './fixtures.js'

t.test(
  'the call log: newest first, filters by method, outcome and time, pages, counts',
  async (t) => {
    const { app, database } = await build(t)
    const ws = await createWorkspace(app)
    const base = await listen(t, app)
    const handler = await createHandler(app, ws.auth, mixedHandler)
    const url = `${base}${handler.path}`
    const form = { 'content-type': 'application/x-www-form-urlencoded' }
    const ids: string[] = []
    const call = async (options: Parameters<typeof send>[1], path = '') => {
      const sent = await send(`${url}${path}`, options)
      ids.push(sent.headers['x-hookline-call-id'] as string)
      return sent
    }
    await call({ headers: form, body: 'email=a@a.example' }) // accepted
    await call({ headers: form, body: 'email=a@a.example' }) // duplicate
    await call({ headers: form, body: 'email=b@b.test' }) // filtered
    await call({ headers: form, body: 'email=nope' }) // invalid
    await call({ method: 'GET' }, '?email=c@c.example') // error: no lookup URL
    t.equal(new Set(ids).size, 5)

    const list = async (query = '') => {
      const res = await app.inject({
        url: `/v1/handlers/${handler.id}/calls${query}`,
        headers: ws.auth,
      })
      t.equal(res.statusCode, 200, res.body)
      return res.json() as {
        data: { id: string; outcome: string; method: string }[]
        next_cursor: string | null
      }
    }
    const all = await list()
    t.same(
      all.data.map((c) => c.id),
      [...ids].reverse(),
      'newest first',
    )
    t.same(
      all.data.map((c) => c.outcome),
      ['error', 'invalid', 'filtered', 'duplicate', 'accepted'],
    )

    t.same(
      (await list('?method=GET')).data.map((c) => c.id),
      [ids[4]],
    )
    t.same(
      (await list('?outcome=duplicate&outcome=filtered')).data.map((c) => c.outcome),
      ['filtered', 'duplicate'],
    )
    t.same(
      (await list('?outcome=accepted&method=POST')).data.map((c) => c.id),
      [ids[0]],
    )

    const first = await list('?limit=2')
    t.equal(first.data.length, 2)
    const second = await list(`?limit=2&cursor=${first.next_cursor}`)
    const third = await list(`?limit=2&cursor=${second.next_cursor}`)
    t.same(
      [...first.data, ...second.data, ...third.data].map((c) => c.id),
      [...ids].reverse(),
    )
    t.equal(third.next_cursor, null)

    // Move the first call 10 days back: outside the default 7 days, inside a longer window.
    const old = new Date(Date.now() - 10 * 86_400_000)
    const { newCallId } = await import('../../src/inbound/call-ids.js')
    const oldId = newCallId(old)
    await database.db
      .updateTable('inbound_calls')
      .set({ id: oldId, received_at: old })
      .where('id', '=', ids[0]!)
      .execute()
    t.equal((await list()).data.length, 4, 'the default window is the last 7 days')
    const from = new Date(Date.now() - 30 * 86_400_000).toISOString()
    const longer = await list(`?from=${encodeURIComponent(from)}`)
    t.equal(longer.data.length, 5)
    t.equal(longer.data.at(-1)?.id, oldId)
    const bounded = await list(
      `?from=${encodeURIComponent(from)}&to=${encodeURIComponent(new Date(old.getTime() + 1000).toISOString())}`,
    )
    t.same(
      bounded.data.map((c) => c.id),
      [oldId],
      'and any range on request',
    )
    const backwards = await app.inject({
      url: `/v1/handlers/${handler.id}/calls?from=${encodeURIComponent(new Date().toISOString())}&to=${encodeURIComponent(from)}`,
      headers: ws.auth,
    })
    t.equal(backwards.statusCode, 400)

    // `since`/`until` are the names; `from`/`to` above stay as deprecated aliases.
    const until = new Date(old.getTime() + 1000).toISOString()
    const renamed = await list(
      `?since=${encodeURIComponent(from)}&until=${encodeURIComponent(until)}`,
    )
    t.same(
      renamed.data.map((c) => c.id),
      [oldId],
      'since and until filter as from and to do',
    )
    const both = await app.inject({
      url: `/v1/handlers/${handler.id}/calls?since=${encodeURIComponent(from)}&from=${encodeURIComponent(from)}`,
      headers: ws.auth,
    })
    t.equal(both.statusCode, 400)
    t.match(both.json().message, /^querystring\/from: deprecated alias of since/)

    const handlers = (await app.inject({ url: '/v1/handlers', headers: ws.auth })).json()
    t.match(handlers.data[0].calls, {
      total: 4,
      accepted: 0,
      duplicate: 1,
      filtered: 1,
      invalid: 1,
      error: 1,
    })
    const wide = (
      await app.inject({
        url: `/v1/handlers?calls_from=${encodeURIComponent(from)}`,
        headers: ws.auth,
      })
    ).json()
    t.match(wide.data[0].calls, { total: 5, accepted: 1 })
    const renamedWide = (
      await app.inject({
        url: `/v1/handlers?calls_since=${encodeURIComponent(from)}`,
        headers: ws.auth,
      })
    ).json()
    t.match(renamedWide.data[0].calls, { total: 5, accepted: 1 }, 'calls_since as calls_from')
    const window = renamedWide.data[0].calls
    t.equal(window.since, new Date(from).toISOString(), 'the window says since/until')
    t.equal(window.from, window.since, 'and still from/to, deprecated')
    t.equal(window.to, window.until)

    const detail = (await app.inject({ url: `/v1/calls/${ids[3]}`, headers: ws.auth })).json()
    t.match(detail, {
      outcome: 'invalid',
      reason: 'email: not an email address',
      parameters: { email: 'nope' },
      record: null,
      response_status: 400,
      request: { body: 'email=nope', body_encoding: 'utf8', body_truncated: false },
      forwarded: { notice_delivery_id: null, actions: [] },
    })
    t.ok(detail.finished_at)
  },
)

t.test('the log keeps the start of a large body, and binary bodies as base64', async (t) => {
  const { app } = await build(t, { inboundStoredBodyBytes: 16 })
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, { title: 'Any', body_format: 'json' })
  const long = await send(`${base}${handler.path}`, {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ note: 'é'.repeat(40) }),
  })
  const detail = (
    await app.inject({ url: `/v1/calls/${long.headers['x-hookline-call-id']}`, headers: ws.auth })
  ).json()
  t.match(detail, {
    outcome: 'accepted',
    body_size: 91,
    request: { body_truncated: true, body_encoding: 'utf8' },
  })
  t.equal(detail.request.body, '{"note":"ééé', 'cut at a character boundary')
  const binary = await send(`${base}${handler.path}`, {
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.from([0xff, 0xfe, 0x00]),
  })
  const bin = (
    await app.inject({ url: `/v1/calls/${binary.headers['x-hookline-call-id']}`, headers: ws.auth })
  ).json()
  t.match(bin, { outcome: 'invalid', request: { body: '//4A', body_encoding: 'base64' } })
})
