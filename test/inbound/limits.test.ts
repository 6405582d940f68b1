import { connect } from 'node:net'
import { Readable } from 'node:stream'
import t from 'tap'
import { request } from 'undici'
import { build, createWorkspace } from '../helpers/app.js'
import { callOf, createHandler, listen, send } from '../helpers/inbound.js'

const json = { 'content-type': 'application/json' }
const handlerBody = {
  title: 'Orders',
  body_limit_bytes: 2048,
  parameters: [
    { name: 'email', type: 'email', required: true },
    { name: 'total', type: 'number', required: false },
  ],
  mapping: [{ source: 'email', target: 'lead.email' }],
}

t.test(
  'oversized, malformed and invalid calls are recorded and answered with the reason',
  async (t) => {
    const { app } = await build(t)
    const ws = await createWorkspace(app)
    const base = await listen(t, app)
    const handler = await createHandler(app, ws.auth, handlerBody)
    const url = `${base}${handler.path}`

    const big = JSON.stringify({ email: 'a@example.com', pad: 'x'.repeat(5000) })
    const tooLarge = await send(url, { headers: json, body: big })
    t.equal(tooLarge.status, 413)
    t.equal(tooLarge.json().code, 'payload_too_large')
    t.match(await callOf(app, ws.auth, tooLarge), {
      outcome: 'invalid',
      reason: /larger than the handler's limit of 2048 bytes/,
      body_size: big.length,
    })

    // Chunked: no Content-Length to refuse up front, so the limit stops the read.
    const chunked = await request(url, {
      method: 'POST',
      headers: json,
      body: Readable.from([
        Buffer.from('{"email":"a@example.com","pad":"'),
        Buffer.alloc(4000, 120),
        Buffer.from('"}'),
      ]),
    })
    t.equal(chunked.statusCode, 413)
    await chunked.body.text()

    const badJson = await send(url, { headers: json, body: '{"email": "a@example.com",' })
    t.equal(badJson.status, 400)
    t.equal(badJson.json().code, 'invalid_body')
    t.match(await callOf(app, ws.auth, badJson), { outcome: 'invalid', reason: /^JSON body: / })

    const entities = await send(url, {
      headers: { 'content-type': 'application/xml' },
      body: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x><email>&a;</email></x>',
    })
    t.equal(entities.status, 400, 'XML with a DOCTYPE is refused whatever the handler reads')

    const wrongType = await send(url, {
      headers: json,
      body: JSON.stringify({ email: 'nope', total: 'ten' }),
    })
    t.equal(wrongType.status, 400)
    t.same(wrongType.json(), {
      statusCode: 400,
      code: 'invalid_parameters',
      error: 'Bad Request',
      message: 'email: not an email address; total: not a number',
    })
    t.match(await callOf(app, ws.auth, wrongType), {
      outcome: 'invalid',
      reason: 'email: not an email address; total: not a number',
    })
    const missing = await send(url, { headers: json, body: '{"total": 3}' })
    t.equal(missing.json().message, 'email: required')

    const get = await send(url, { method: 'GET' })
    t.equal(get.status, 405)
    t.equal(get.headers.allow, 'POST')
    t.match(await callOf(app, ws.auth, get), {
      outcome: 'invalid',
      method: 'GET',
      reason: /not accepted/,
    })

    const hostile = await send(url, {
      headers: json,
      body: '{"email":"a@example.com","note":"nul \\u0000 and \\ud800 here","k\\u0000":1}',
    })
    t.equal(hostile.status, 400, 'text PostgreSQL cannot store is refused, and the call recorded')
    t.match(await callOf(app, ws.auth, hostile), {
      outcome: 'invalid',
      reason: /"note" holds U\+0000/,
    })
  },
)

t.test('unknown, malformed and rotated-out tokens answer one uniform 404', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, handlerBody)
  const body = JSON.stringify({ email: 'a@example.com' })
  t.equal((await send(`${base}${handler.path}`, { headers: json, body })).status, 200)

  const rotated = await app.inject({
    method: 'POST',
    url: `/v1/handlers/${handler.id}/rotate-token`,
    headers: ws.auth,
  })
  t.equal(rotated.statusCode, 200)
  const fresh = rotated.json()
  t.not(fresh.endpoint_url, handler.endpoint_url)
  t.ok(fresh.token_rotated_at)

  const answers = await Promise.all([
    send(`${base}${handler.path}`, { headers: json, body }),
    send(`${base}/in/hli_${'A'.repeat(32)}`, { headers: json, body }),
    send(`${base}/in/not-a-token`, { headers: json, body }),
    send(`${base}/in/hli_${'B'.repeat(32)}`, { method: 'GET' }),
  ])
  for (const answer of answers) {
    t.equal(answer.status, 404)
    t.same(answer.json(), {
      statusCode: 404,
      code: 'not_found',
      error: 'Not Found',
      message: 'no such endpoint',
    })
    t.notOk(answer.headers['x-hookline-call-id'], 'nothing to record against')
  }
  t.equal(
    (await send(`${base}${new URL(fresh.endpoint_url).pathname}`, { headers: json, body })).status,
    200,
  )
})

t.test('rate limits per token and per source address answer 429 with Retry-After', async (t) => {
  const { app } = await build(t, { inboundRatePerToken: 1, inboundRatePerAddress: 6 })
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const one = await createHandler(app, ws.auth, handlerBody)
  const two = await createHandler(app, ws.auth, { ...handlerBody, title: 'Two' })
  const body = JSON.stringify({ email: 'a@example.com' })
  // Sent together, so no bucket refills in between: bursts of twice the rate pass, the rest wait.
  const burst = await Promise.all(
    Array.from({ length: 6 }, () => send(`${base}${one.path}`, { headers: json, body })),
  )
  const limited = burst.filter((r) => r.status === 429)
  t.ok(limited.length >= 3, 'the token is limited')
  t.match(limited[0]?.headers['retry-after'], /^[1-9]\d*$/)
  t.equal(limited[0]?.json().code, 'rate_limited')
  t.notOk(limited[0]?.headers['x-hookline-call-id'], 'a limited call is not recorded')
  t.equal(
    (await send(`${base}${two.path}`, { headers: json, body })).status,
    200,
    'another token is not',
  )

  const flood = await Promise.all(
    Array.from({ length: 30 }, () =>
      send(`${base}/in/hli_${'C'.repeat(32)}`, { headers: json, body }),
    ),
  )
  t.ok(
    flood.some((r) => r.status === 429),
    'the address limit applies before the token is looked up',
  )
  t.ok(flood.every((r) => r.status === 429 || r.status === 404))
})

t.test('a body that trickles in too slowly is cut off with 408 and recorded', async (t) => {
  const { app } = await build(t, { inboundBodyTimeoutMs: 300 })
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, handlerBody)
  const { port } = new URL(base)
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(
        `POST ${handler.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":`,
      )
    })
    let text = ''
    socket.on('data', (chunk) => {
      text += chunk
    })
    socket.on('close', () => resolve(text))
    socket.on('error', reject)
  })
  t.match(answer, /^HTTP\/1\.1 408 /)
  const id = /x-hookline-call-id: (\S+)/i.exec(answer)?.[1]
  const call = (await app.inject({ url: `/v1/calls/${id}`, headers: ws.auth })).json()
  t.match(call, {
    outcome: 'invalid',
    reason: /did not arrive within 300 ms/,
    request: { body: '{"email":' },
  })
})
