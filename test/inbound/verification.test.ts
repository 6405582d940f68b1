import { createHmac, randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { callOf, createHandler, listen, send } from '../helpers/inbound.js'

const hmac = (algorithm: string, key: string | Buffer, data: string) =>
  createHmac(algorithm, key).update(data)
const body = JSON.stringify({ email: 'ada@example.com', order: 1001 })
const json = { 'content-type': 'application/json' }
const common = {
  parameters: [{ name: 'email', type: 'email', required: true }],
  mapping: [{ source: 'email', target: 'lead.email' }],
}

t.test('GitHub- and Shopify-style HMAC signatures', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const github = await createHandler(app, ws.auth, {
    ...common,
    title: 'GitHub',
    protection: { period_seconds: 60 },
    verification: {
      type: 'hmac',
      header: 'X-Hub-Signature-256',
      algorithm: 'sha256',
      encoding: 'hex',
      prefix: 'sha256=',
      secret: 'gh-secret',
    },
  })
  t.same(
    github.verification,
    {
      type: 'hmac',
      header: 'X-Hub-Signature-256',
      algorithm: 'sha256',
      encoding: 'hex',
      prefix: 'sha256=',
      secret_set: true,
      previous_secrets: [],
    },
    'the secret is never shown',
  )
  const url = `${base}${github.path}`
  const signature = `sha256=${hmac('sha256', 'gh-secret', body).digest('hex')}`

  const good = await send(url, { headers: { ...json, 'x-hub-signature-256': signature }, body })
  t.equal(good.status, 200, good.text)
  const goodCall = await callOf(app, ws.auth, good)
  t.equal(goodCall.outcome, 'accepted')
  t.equal(
    goodCall.request.headers['x-hub-signature-256'],
    '[redacted]',
    'the signature is masked in the log',
  )
  t.ok(goodCall.forwarded.notice_delivery_id)

  const wrong = await send(url, {
    headers: {
      ...json,
      'x-hub-signature-256': `sha256=${hmac('sha256', 'other', body).digest('hex')}`,
    },
    body,
  })
  t.equal(wrong.status, 401)
  t.equal(wrong.json().code, 'verification_failed')
  t.notMatch(
    wrong.text,
    /gh-secret|sha256=/,
    'the sender learns nothing about the expected signature',
  )
  t.match(await callOf(app, ws.auth, wrong), {
    outcome: 'rejected',
    reason: 'X-Hub-Signature-256: signature does not match',
    forwarded: { notice_delivery_id: null },
  })

  const short = await send(url, {
    headers: { ...json, 'x-hub-signature-256': 'sha256=abcd' },
    body,
  })
  t.equal(short.status, 401)
  t.match((await callOf(app, ws.auth, short)).reason, /wrong length/)
  const garbage = await send(url, {
    headers: { ...json, 'x-hub-signature-256': 'sha256=zz!' },
    body,
  })
  t.match((await callOf(app, ws.auth, garbage)).reason, /not a hex signature/)
  const missing = await send(url, { headers: json, body })
  t.match((await callOf(app, ws.auth, missing)).reason, /missing/)

  // GitHub signs no timestamp: a replay is caught by the protection period.
  const replay = await send(url, { headers: { ...json, 'x-hub-signature-256': signature }, body })
  t.equal(replay.status, 200, 'a replay is answered like the first')
  t.match(await callOf(app, ws.auth, replay), {
    outcome: 'duplicate',
    forwarded: { notice_delivery_id: null },
  })

  const shopify = await createHandler(app, ws.auth, {
    ...common,
    title: 'Shopify',
    verification: {
      type: 'hmac',
      header: 'X-Shopify-Hmac-Sha256',
      algorithm: 'sha256',
      encoding: 'base64',
      secret: 'shp-secret',
    },
  })
  const shopUrl = `${base}${shopify.path}`
  const shopSig = hmac('sha256', 'shp-secret', body).digest('base64')
  t.equal(
    (await send(shopUrl, { headers: { ...json, 'x-shopify-hmac-sha256': shopSig }, body })).status,
    200,
  )
  const tampered = await send(shopUrl, {
    headers: { ...json, 'x-shopify-hmac-sha256': shopSig },
    body: body.replace('1001', '1002'),
  })
  t.equal(tampered.status, 401, 'a changed body no longer matches')
})

t.test('Stripe-style signatures: correct, wrong, stale, replayed', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, {
    ...common,
    title: 'Stripe',
    protection: { period_seconds: 60 },
    verification: { type: 'stripe', secret: 'whsec_stripe_test', toleranceSeconds: 300 },
  })
  const url = `${base}${handler.path}`
  const stripeHeader = (seconds: number, secret = 'whsec_stripe_test', payload = body) =>
    `t=${seconds},v1=${hmac('sha256', secret, `${seconds}.${payload}`).digest('hex')}`
  const now = Math.floor(Date.now() / 1000)

  const good = await send(url, {
    headers: { ...json, 'stripe-signature': stripeHeader(now) },
    body,
  })
  t.equal(good.status, 200, good.text)
  t.equal((await callOf(app, ws.auth, good)).outcome, 'accepted')

  const wrong = await send(url, {
    headers: { ...json, 'stripe-signature': stripeHeader(now, 'whsec_other') },
    body,
  })
  t.equal(wrong.status, 401)
  t.match((await callOf(app, ws.auth, wrong)).reason, /does not match/)

  const stale = await send(url, {
    headers: { ...json, 'stripe-signature': stripeHeader(now - 3600) },
    body,
  })
  t.equal(stale.status, 401)
  t.match((await callOf(app, ws.auth, stale)).reason, /tolerance/)

  const replay = await send(url, {
    headers: { ...json, 'stripe-signature': stripeHeader(now) },
    body,
  })
  t.equal(replay.status, 200)
  t.equal(
    (await callOf(app, ws.auth, replay)).outcome,
    'duplicate',
    'a replay within the tolerance is a duplicate',
  )
})

t.test(
  'Standard Webhooks and Svix: correct, wrong, stale, retried (also concurrently)',
  async (t) => {
    const { app } = await build(t)
    const ws = await createWorkspace(app)
    const base = await listen(t, app)
    const secret = `whsec_${randomBytes(24).toString('base64')}`
    const handler = await createHandler(app, ws.auth, {
      ...common,
      title: 'Standard Webhooks',
      verification: { type: 'standard_webhooks', secret },
    })
    const url = `${base}${handler.path}`
    const signer = new Webhook(secret)
    const headersFor = (id: string, at = new Date(), signWith = signer, payload = body) => ({
      ...json,
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signWith.sign(id, at, payload),
    })

    const good = await send(url, { headers: headersFor('msg_1'), body })
    t.equal(good.status, 200, good.text)
    const call = await callOf(app, ws.auth, good)
    t.equal(call.outcome, 'accepted')
    t.equal(call.request.headers['webhook-signature'], '[redacted]')

    const other = new Webhook(`whsec_${randomBytes(24).toString('base64')}`)
    const wrong = await send(url, { headers: headersFor('msg_2', new Date(), other), body })
    t.equal(wrong.status, 401)
    t.match((await callOf(app, ws.auth, wrong)).reason, /no signature matches/)

    const stale = await send(url, {
      headers: headersFor('msg_3', new Date(Date.now() - 3600_000)),
      body,
    })
    t.equal(stale.status, 401)
    t.match((await callOf(app, ws.auth, stale)).reason, /seconds from now/)

    // A sender's retry: the same message id, signed afresh (a new timestamp and signature).
    const retried = await send(url, {
      headers: headersFor('msg_1', new Date(Date.now() + 2000)),
      body,
    })
    t.equal(retried.status, 200, `a verified retry is answered like the first: ${retried.text}`)
    t.same(retried.json(), good.json())
    t.match(await callOf(app, ws.auth, retried), {
      outcome: 'duplicate',
      response_status: 200,
      reason: /webhook-id msg_1 was already received/,
      forwarded: { notice_delivery_id: null },
    })
    const copied = await send(url, { headers: headersFor('msg_1'), body })
    t.equal(copied.status, 200, 'an exact copy too: it is not forwarded again')
    t.equal((await callOf(app, ws.auth, copied)).outcome, 'duplicate')
    const forged = await send(url, { headers: headersFor('msg_1', new Date(), other), body })
    t.equal(forged.status, 401, 'a seen id with a wrong signature is still refused')

    // Svix sends the same scheme under svix-* names, and retries the same way.
    const svix = (id: string, at: Date) => ({
      ...json,
      'svix-id': id,
      'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
      'svix-signature': signer.sign(id, at, body),
    })
    const first = await send(url, { headers: svix('msg_svix', new Date()), body })
    t.equal(first.status, 200, first.text)
    t.equal((await callOf(app, ws.auth, first)).outcome, 'accepted')
    const again = await send(url, { headers: svix('msg_svix', new Date(Date.now() + 5000)), body })
    t.equal(again.status, 200, again.text)
    t.equal((await callOf(app, ws.auth, again)).outcome, 'duplicate')

    const headers = headersFor('msg_race')
    const race = await Promise.all(Array.from({ length: 8 }, () => send(url, { headers, body })))
    t.same(
      race.map((r) => r.status),
      Array(8).fill(200),
      'concurrent copies of one message are all answered 200',
    )
    const outcomes = await Promise.all(
      race.map(async (r) => (await callOf(app, ws.auth, r)).outcome),
    )
    t.same(
      outcomes.sort(),
      ['accepted', ...Array(7).fill('duplicate')],
      'and exactly one of them is forwarded',
    )
  },
)

t.test('basic auth and secret header/query: checked, and masked in the log', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const basic = await createHandler(app, ws.auth, {
    ...common,
    title: 'Basic',
    verification: { type: 'basic', username: 'crm', password: 'pa55word' },
  })
  const auth = (user: string, password: string) =>
    `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
  const good = await send(`${base}${basic.path}`, {
    headers: { ...json, authorization: auth('crm', 'pa55word') },
    body,
  })
  t.equal(good.status, 200)
  t.equal((await callOf(app, ws.auth, good)).request.headers.authorization, 'Basic [redacted]')
  const wrong = await send(`${base}${basic.path}`, {
    headers: { ...json, authorization: auth('crm', 'nope') },
    body,
  })
  t.equal(wrong.status, 401)

  const query = await createHandler(app, ws.auth, {
    ...common,
    title: 'Query key',
    verification: { type: 'secret_query', param: 'key', secret: 'q-secret' },
  })
  const ok = await send(`${base}${query.path}?key=q-secret&src=ad`, { headers: json, body })
  t.equal(ok.status, 200)
  t.same((await callOf(app, ws.auth, ok)).request.query, { key: '[redacted]', src: 'ad' })
  t.equal((await send(`${base}${query.path}?key=nope`, { headers: json, body })).status, 401)

  const header = await createHandler(app, ws.auth, {
    ...common,
    title: 'Header token',
    verification: { type: 'secret_header', header: 'X-Form-Token', secret: 'h-secret' },
  })
  const viaHeader = await send(`${base}${header.path}`, {
    headers: { ...json, 'x-form-token': 'h-secret' },
    body,
  })
  t.equal(viaHeader.status, 200)
  t.equal((await callOf(app, ws.auth, viaHeader)).request.headers['x-form-token'], '[redacted]')
})
