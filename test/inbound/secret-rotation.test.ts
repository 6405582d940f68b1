import { createHmac, randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { callOf, createHandler, listen, send } from '../helpers/inbound.js'

const body = JSON.stringify({ email: 'ada@example.com' })
const json = { 'content-type': 'application/json' }
const common = {
  parameters: [{ name: 'email', type: 'email', required: true }],
  mapping: [{ source: 'email', target: 'lead.email' }],
}
const github = (secret: string, header = 'x-hub-signature-256') => ({
  ...json,
  [header]: `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
})

t.test('one verification setting changes without the secret; a new type needs one', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, {
    ...common,
    title: 'GitHub',
    verification: {
      type: 'hmac',
      header: 'X-Hub-Signature-256',
      algorithm: 'sha256',
      encoding: 'hex',
      prefix: 'sha256=',
      secret: 'gh-secret',
    },
  })
  const patched = await app.inject({
    method: 'PATCH',
    url: `/v1/handlers/${handler.id}`,
    headers: ws.auth,
    payload: {
      verification: {
        type: 'hmac',
        header: 'X-Signature',
        algorithm: 'sha256',
        encoding: 'hex',
        prefix: 'sha256=',
      },
    },
  })
  t.equal(patched.statusCode, 200, patched.body)
  t.match(patched.json().verification, { header: 'X-Signature', secret_set: true })
  const url = `${base}${handler.path}`
  const ok = await send(url, { headers: github('gh-secret', 'x-signature'), body })
  t.equal(ok.status, 200, `the stored secret is kept: ${ok.text}`)

  const otherType = await app.inject({
    method: 'PATCH',
    url: `/v1/handlers/${handler.id}`,
    headers: ws.auth,
    payload: { verification: { type: 'secret_header', header: 'X-Token' } },
  })
  t.equal(otherType.statusCode, 400, otherType.body)
  t.match(otherType.json().message, /body\/verification\/secret: required when the type changes/)

  const basic = await createHandler(app, ws.auth, {
    ...common,
    title: 'Basic',
    verification: { type: 'basic', username: 'crm', password: 'pa55word' },
  })
  const renamed = await app.inject({
    method: 'PATCH',
    url: `/v1/handlers/${basic.id}`,
    headers: ws.auth,
    payload: { verification: { type: 'basic', username: 'crm2' } },
  })
  t.equal(renamed.statusCode, 200, renamed.body)
  const auth = `Basic ${Buffer.from('crm2:pa55word').toString('base64')}`
  const sent = await send(`${base}${basic.path}`, {
    headers: { ...json, authorization: auth },
    body,
  })
  t.equal(sent.status, 200, `the stored password is kept: ${sent.text}`)
})

t.test('a rotated secret: the old one is accepted until the overlap ends', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, {
    ...common,
    title: 'GitHub',
    verification: {
      type: 'hmac',
      header: 'X-Hub-Signature-256',
      algorithm: 'sha256',
      encoding: 'hex',
      prefix: 'sha256=',
      secret: 'old-secret',
    },
  })
  const url = `${base}${handler.path}`
  const rotate = (payload: Record<string, unknown>, id = handler.id) =>
    app.inject({
      method: 'POST',
      url: `/v1/handlers/${id}/rotate-secret`,
      headers: ws.auth,
      payload,
    })

  const rotated = await rotate({ secret: 'new-secret', overlap_seconds: 3600 })
  t.equal(rotated.statusCode, 200, rotated.body)
  t.notMatch(rotated.body, /old-secret|new-secret/, 'secrets are never shown')
  const [previous] = rotated.json().verification.previous_secrets
  t.ok(previous, 'the old secret is listed with its end')
  const ends = Date.parse(previous.expires_at) - Date.now()
  t.ok(ends > 3000_000 && ends <= 3600_000, 'an hour from now')

  t.equal((await send(url, { headers: github('new-secret'), body })).status, 200, 'new: accepted')
  const old = await send(url, { headers: github('old-secret'), body })
  t.equal(old.status, 200, `old, in its overlap: accepted (${old.text})`)
  const wrong = await send(url, { headers: github('never-set'), body })
  t.equal(wrong.status, 401)
  t.match((await callOf(app, ws.auth, wrong)).reason, /does not match/)

  // Rotating again with no overlap retires "new-secret" at once; "old-secret" keeps its hour.
  const again = await rotate({ secret: 'newest-secret', overlap_seconds: 0 })
  t.equal(again.statusCode, 200, again.body)
  t.equal(again.json().verification.previous_secrets.length, 1)
  t.equal((await send(url, { headers: github('newest-secret'), body })).status, 200)
  t.equal((await send(url, { headers: github('new-secret'), body })).status, 401, 'overlap 0: gone')
  t.equal(
    (await send(url, { headers: github('old-secret'), body })).status,
    200,
    'still in its hour',
  )

  const none = await createHandler(app, ws.auth, { ...common, title: 'Open' })
  const nothing = await rotate({ secret: 'x' }, none.id)
  t.equal(nothing.statusCode, 409, nothing.body)
})

t.test('Standard Webhooks: a sender moving to the new key is not refused meanwhile', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const oldKey = `whsec_${randomBytes(24).toString('base64')}`
  const newKey = `whsec_${randomBytes(24).toString('base64')}`
  const handler = await createHandler(app, ws.auth, {
    ...common,
    title: 'Svix',
    verification: { type: 'standard_webhooks', secret: oldKey },
  })
  const bad = await app.inject({
    method: 'POST',
    url: `/v1/handlers/${handler.id}/rotate-secret`,
    headers: ws.auth,
    payload: { secret: 'not base64!' },
  })
  t.equal(bad.statusCode, 400, bad.body)
  const rotated = await app.inject({
    method: 'POST',
    url: `/v1/handlers/${handler.id}/rotate-secret`,
    headers: ws.auth,
    payload: { secret: newKey },
  })
  t.equal(rotated.statusCode, 200, rotated.body)
  const signed = (key: string, id: string) => {
    const at = new Date()
    return {
      ...json,
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(key).sign(id, at, body),
    }
  }
  const url = `${base}${handler.path}`
  const byOld = await send(url, { headers: signed(oldKey, 'msg_old'), body })
  t.equal(byOld.status, 200, byOld.text)
  t.equal((await callOf(app, ws.auth, byOld)).outcome, 'accepted')
  const byNew = await send(url, { headers: signed(newKey, 'msg_new'), body })
  t.equal(byNew.status, 200, byNew.text)
})
