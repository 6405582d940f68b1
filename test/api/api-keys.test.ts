import t from 'tap'
import { build, createWorkspace, operator } from '../helpers/app.js'

t.test('a key is shown once, stored as a hash, and opens its workspace', async (t) => {
  const { app, database } = await build(t)
  const ws = await createWorkspace(app, 'Acme')
  t.match(ws.key, /^hl_[0-9a-z]{8}_[\w-]{32}$/)

  const me = await app.inject({ url: '/v1/workspace', headers: ws.auth })
  t.equal(me.statusCode, 200)
  t.equal(me.json().id, ws.id)

  const list = await app.inject({
    url: `/operator/workspaces/${ws.id}/api-keys`,
    headers: operator,
  })
  const [listed] = list.json().data
  t.equal(listed.id, ws.keyId)
  t.equal(listed.prefix, ws.key.slice(0, 11), 'the visible prefix is the start of the key')
  t.notOk('key' in listed, 'the secret is never listed')
  t.ok(listed.last_used_at, 'last use is recorded')

  const stored = await database.db.selectFrom('api_keys').selectAll().execute()
  t.equal(stored.length, 1)
  t.notOk(
    JSON.stringify(stored).includes(ws.key.split('_')[2] as string),
    'the database never holds the secret',
  )
})

t.test('a revoked key stops working at once', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  // Used a moment ago, so the process remembers it.
  t.equal((await app.inject({ url: '/v1/workspace', headers: ws.auth })).statusCode, 200)
  const revoked = await app.inject({
    method: 'DELETE',
    url: `/operator/workspaces/${ws.id}/api-keys/${ws.keyId}`,
    headers: operator,
  })
  t.equal(revoked.statusCode, 200)
  t.ok(revoked.json().revoked_at)
  const again = await app.inject({
    method: 'DELETE',
    url: `/operator/workspaces/${ws.id}/api-keys/${ws.keyId}`,
    headers: operator,
  })
  t.equal(again.json().revoked_at, revoked.json().revoked_at, 'revoking twice keeps the first time')

  const res = await app.inject({ url: '/v1/workspace', headers: ws.auth })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'unauthorized')
})

t.test('a key revoked by another process stops working here too', async (t) => {
  const { app, database } = await build(t)
  const ws = await createWorkspace(app)
  t.equal((await app.inject({ url: '/v1/workspace', headers: ws.auth })).statusCode, 200)
  // As another API process revoking it would: this process is not told.
  await database.db
    .updateTable('api_keys')
    .set({ revoked_at: new Date() })
    .where('id', '=', ws.keyId)
    .execute()
  let status = 200
  for (let i = 0; i < 300 && status === 200; i++) {
    status = (await app.inject({ url: '/v1/workspace', headers: ws.auth })).statusCode
    if (status === 200) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(status, 401, 'refused once the cached answer expired')
})

t.test('with API_KEY_CACHE_MS=0 every call looks its key up', async (t) => {
  const { app, database } = await build(t, { apiKeyCacheMs: 0 })
  const ws = await createWorkspace(app)
  t.equal((await app.inject({ url: '/v1/workspace', headers: ws.auth })).statusCode, 200)
  await database.db
    .updateTable('api_keys')
    .set({ revoked_at: new Date() })
    .where('id', '=', ws.keyId)
    .execute()
  t.equal((await app.inject({ url: '/v1/workspace', headers: ws.auth })).statusCode, 401)
})

t.test('keys and workspaces stay apart', async (t) => {
  const { app } = await build(t)
  const a = await createWorkspace(app, 'A')
  const b = await createWorkspace(app, 'B')

  const meB = await app.inject({ url: '/v1/workspace', headers: b.auth })
  t.equal(meB.json().id, b.id, "B's key opens B, not A")

  // A's key revoked through B's path: 404 as if it did not exist, and A's key still works.
  const cross = await app.inject({
    method: 'DELETE',
    url: `/operator/workspaces/${b.id}/api-keys/${a.keyId}`,
    headers: operator,
  })
  t.equal(cross.statusCode, 404)
  t.equal((await app.inject({ url: '/v1/workspace', headers: a.auth })).statusCode, 200)

  const listB = await app.inject({
    url: `/operator/workspaces/${b.id}/api-keys`,
    headers: operator,
  })
  t.same(
    listB.json().data.map((k: { id: string }) => k.id),
    [b.keyId],
  )

  // Deleting a workspace takes its keys with it.
  await app.inject({ method: 'DELETE', url: `/operator/workspaces/${a.id}`, headers: operator })
  t.equal((await app.inject({ url: '/v1/workspace', headers: a.auth })).statusCode, 401)
  t.equal((await app.inject({ url: '/v1/workspace', headers: b.auth })).statusCode, 200)
})

t.test('keys for a missing workspace are a 404', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/operator/workspaces/ws_00000000000000000000000000/api-keys',
    headers: operator,
    payload: { name: 'x' },
  })
  t.equal(res.statusCode, 404)
})
