import t from 'tap'
import { build, operator } from '../helpers/app.js'

t.test('operator manages workspaces', async (t) => {
  const { app } = await build(t)

  const created = await app.inject({
    method: 'POST',
    url: '/operator/workspaces',
    headers: operator,
    payload: { name: 'Acme Realty', external_id: 'crm-1' },
  })
  t.equal(created.statusCode, 201)
  const workspace = created.json()
  t.match(workspace, {
    id: /^ws_[0-9a-z]{26}$/,
    name: 'Acme Realty',
    external_id: 'crm-1',
    webhooks_enabled: true,
    retention_days: 30,
  })
  t.ok(new Date(workspace.created_at).toISOString().endsWith('Z'), 'timestamps are ISO 8601 UTC')

  const fetched = await app.inject({
    url: `/operator/workspaces/${workspace.id}`,
    headers: operator,
  })
  t.same(fetched.json(), workspace)

  const patched = await app.inject({
    method: 'PATCH',
    url: `/operator/workspaces/${workspace.id}`,
    headers: operator,
    payload: { webhooks_enabled: false, retention_days: 90 },
  })
  t.equal(patched.statusCode, 200)
  t.match(patched.json(), { name: 'Acme Realty', webhooks_enabled: false, retention_days: 90 })

  const duplicate = await app.inject({
    method: 'POST',
    url: '/operator/workspaces',
    headers: operator,
    payload: { name: 'Other', external_id: 'crm-1' },
  })
  t.equal(duplicate.statusCode, 409)
  t.match(duplicate.json(), { code: 'conflict', message: /external_id/ })

  const deleted = await app.inject({
    method: 'DELETE',
    url: `/operator/workspaces/${workspace.id}`,
    headers: operator,
  })
  t.equal(deleted.statusCode, 204)
  const gone = await app.inject({ url: `/operator/workspaces/${workspace.id}`, headers: operator })
  t.equal(gone.statusCode, 404)
  t.same(gone.json(), {
    statusCode: 404,
    code: 'not_found',
    error: 'Not Found',
    message: `workspace ${workspace.id} not found`,
  })
})

t.test('workspace lists page with a cursor, newest first', async (t) => {
  const { app } = await build(t)
  const ids: string[] = []
  for (const name of ['one', 'two', 'three', 'four', 'five']) {
    const res = await app.inject({
      method: 'POST',
      url: '/operator/workspaces',
      headers: operator,
      payload: { name },
    })
    ids.push(res.json().id)
  }
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const query: string = cursor ? `limit=2&cursor=${cursor}` : 'limit=2'
    const res = await app.inject({ url: `/operator/workspaces?${query}`, headers: operator })
    t.equal(res.statusCode, 200)
    const body = res.json() as { data: { id: string }[]; next_cursor: string | null }
    t.ok(body.data.length <= 2)
    seen.push(...body.data.map((w) => w.id))
    cursor = body.next_cursor
    pages++
  } while (cursor && pages < 10)
  t.equal(pages, 3)
  t.same(seen, [...ids].reverse(), 'every workspace once, newest first')

  const bad = await app.inject({ url: '/operator/workspaces?cursor=bm9wZQ', headers: operator })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'invalid_cursor')

  const tooMany = await app.inject({ url: '/operator/workspaces?limit=1000', headers: operator })
  t.equal(tooMany.statusCode, 400)
  t.match(tooMany.json().message, /querystring\/limit/)
})

t.test('operator API refuses missing, wrong and absent tokens', async (t) => {
  const { app } = await build(t)
  const none = await app.inject({ url: '/operator/workspaces' })
  t.equal(none.statusCode, 401)
  t.equal(none.json().code, 'operator_unauthorized')
  const wrong = await app.inject({
    url: '/operator/workspaces',
    headers: { authorization: 'Bearer not-the-operator-token' },
  })
  t.equal(wrong.statusCode, 401)

  const { app: disabled } = await build(t, { operatorToken: undefined })
  const res = await disabled.inject({ url: '/operator/workspaces', headers: operator })
  t.equal(res.statusCode, 403)
  t.equal(res.json().code, 'operator_api_disabled')
})

t.test('validation errors name the field and never coerce bodies', async (t) => {
  const { app } = await build(t)
  const post = (payload: unknown) =>
    app.inject({
      method: 'POST',
      url: '/operator/workspaces',
      headers: operator,
      payload: payload as object,
    })

  const unknown = await post({ name: 'x', colour: 'red' })
  t.equal(unknown.statusCode, 400)
  t.same(unknown.json(), {
    statusCode: 400,
    code: 'validation_failed',
    error: 'Bad Request',
    message: 'body/colour: unknown property (not allowed here)',
    errors: [
      {
        path: 'body/colour',
        code: 'additional_properties',
        message: 'unknown property (not allowed here)',
      },
    ],
  })

  const missing = await post({})
  t.equal(missing.json().message, 'body/name: required property is missing')

  const numberName = await post({ name: 42 })
  t.equal(numberName.statusCode, 400, 'a number is not silently turned into a string')
  t.match(numberName.json().message, /^body\/name: must be string/)

  const stringBool = await post({ name: 'x', webhooks_enabled: 'true' })
  t.equal(stringBool.statusCode, 400)
  t.match(stringBool.json().message, /^body\/webhooks_enabled/)

  const empty = await app.inject({
    method: 'PATCH',
    url: '/operator/workspaces/ws_0000000000000000000000000',
    headers: operator,
    payload: {},
  })
  t.equal(empty.statusCode, 400)

  const badId = await app.inject({ url: '/operator/workspaces/not%20an%20id', headers: operator })
  t.equal(badId.statusCode, 400)
  t.match(badId.json().message, /^params\/workspaceId/)
})
