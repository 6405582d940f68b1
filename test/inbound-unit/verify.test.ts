import { createHmac } from 'node:crypto'
import { Ajv } from 'ajv'
import fc from 'fast-check'
import { Webhook } from 'standardwebhooks'
import t from 'tap'
import { Value } from 'typebox/value'
import {
  type InboundRequest,
  Verification,
  verificationHeaderNames,
  verifyInbound,
} from '../../src/inbound/verify.js'

const now = new Date('2026-11-24T09:30:00Z')
const nowSeconds = Math.floor(now.getTime() / 1000)

const request = (
  headers: InboundRequest['headers'],
  body = 'Hello, World!',
  query = {},
): InboundRequest => ({
  headers,
  query,
  rawBody: Buffer.from(body),
  now,
})

/** No reason may carry a secret or what the signature should have been. */
const leaksNothing = (reason: string, ...secrets: string[]) =>
  secrets.every((s) => s && !reason.includes(s))

t.test('the schema accepts each preset and refuses a mixed-up one', async (t) => {
  const ajv = new Ajv({ strict: false })
  const validate = ajv.compile(Verification)
  const good = [
    { type: 'none' },
    {
      type: 'hmac',
      header: 'X-Hub-Signature-256',
      algorithm: 'sha256',
      encoding: 'hex',
      prefix: 'sha256=',
      secret: 's',
    },
    {
      type: 'hmac',
      header: 'X-Shopify-Hmac-Sha256',
      algorithm: 'sha256',
      encoding: 'base64',
      secret: 's',
    },
    { type: 'stripe', secret: 'whsec_abc', toleranceSeconds: 300 },
    { type: 'standard_webhooks', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
    { type: 'basic', username: 'crm', password: 'pw' },
    { type: 'secret_header', header: 'X-Token', secret: 's' },
    { type: 'secret_query', param: 'key', secret: 's' },
  ]
  for (const config of good) {
    t.equal(validate(config), true, config.type)
    t.equal(Value.Check(Verification, config), true, config.type)
  }
  const bad = [
    { type: 'hmac', header: 'X-Sig', algorithm: 'md5', encoding: 'hex', secret: 's' },
    { type: 'hmac', header: 'Bad Header', algorithm: 'sha256', encoding: 'hex', secret: 's' },
    { type: 'stripe', secret: '' },
    { type: 'standard_webhooks', secret: 'not base64!' },
    { type: 'basic', username: 'a:b', password: 'p' },
    { type: 'none', secret: 's' },
    { type: 'jwt' },
  ]
  for (const config of bad) {
    t.equal(validate(config), false, JSON.stringify(config))
    t.equal(Value.Check(Verification, config), false, JSON.stringify(config))
  }
})

t.test('GitHub: the documented example verifies', async (t) => {
  const secret = "It's a Secret to Everybody"
  const config: Verification = {
    type: 'hmac',
    header: 'X-Hub-Signature-256',
    algorithm: 'sha256',
    encoding: 'hex',
    prefix: 'sha256=',
    secret,
  }
  const expected = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'
  t.same(verifyInbound(config, request({ 'x-hub-signature-256': expected })), { ok: true })
  t.same(
    verifyInbound(
      config,
      request({ 'X-Hub-Signature-256': expected.toUpperCase().replace('SHA256=', 'sha256=') }),
    ),
    { ok: true },
    'header name and hex case do not matter',
  )

  const rejections: [InboundRequest['headers'], string][] = [
    [{}, 'X-Hub-Signature-256: missing'],
    [
      { 'x-hub-signature-256': expected.replace('757', '758') },
      'X-Hub-Signature-256: signature does not match',
    ],
    [
      { 'x-hub-signature-256': expected.slice(0, -2) },
      'X-Hub-Signature-256: signature has the wrong length',
    ],
    [
      { 'x-hub-signature-256': `${expected}00` },
      'X-Hub-Signature-256: signature has the wrong length',
    ],
    [
      { 'x-hub-signature-256': expected.slice(7) },
      'X-Hub-Signature-256: does not start with the expected prefix',
    ],
    [{ 'x-hub-signature-256': 'sha256=zz' }, 'X-Hub-Signature-256: not a hex signature'],
    [{ 'x-hub-signature-256': 'sha256=abc' }, 'X-Hub-Signature-256: not a hex signature'],
    [{ 'x-hub-signature-256': 'sha256=' }, 'X-Hub-Signature-256: not a hex signature'],
    [{ 'x-hub-signature-256': [expected, expected] }, 'X-Hub-Signature-256: sent more than once'],
  ]
  for (const [headers, reason] of rejections) {
    const result = verifyInbound(config, request(headers))
    t.same(result, { ok: false, reason }, JSON.stringify(headers))
    t.ok(!result.ok && leaksNothing(result.reason, secret, expected.slice(7)))
  }
  const tampered = verifyInbound(
    config,
    request({ 'x-hub-signature-256': expected }, 'Hello, World?'),
  )
  t.same(tampered, { ok: false, reason: 'X-Hub-Signature-256: signature does not match' })
})

t.test('GitHub sha1 and sha512 variants', async (t) => {
  const body = '{"zen":"Keep it logically awesome."}'
  for (const algorithm of ['sha1', 'sha512'] as const) {
    const signature = createHmac(algorithm, 'k').update(body).digest('hex')
    const config: Verification = {
      type: 'hmac',
      header: 'X-Hub-Signature',
      algorithm,
      encoding: 'hex',
      prefix: `${algorithm}=`,
      secret: 'k',
    }
    t.same(
      verifyInbound(config, request({ 'x-hub-signature': `${algorithm}=${signature}` }, body)),
      { ok: true },
    )
  }
})

t.test('Shopify: base64 HMAC of the raw body, no prefix', async (t) => {
  const secret = 'shpss_0123456789abcdef'
  const body = '{"id":820982911946154508,"email":"jon@example.com"}'
  const signature = createHmac('sha256', secret).update(body, 'utf8').digest('base64')
  const config: Verification = {
    type: 'hmac',
    header: 'X-Shopify-Hmac-Sha256',
    algorithm: 'sha256',
    encoding: 'base64',
    secret,
  }
  t.same(verifyInbound(config, request({ 'x-shopify-hmac-sha256': signature }, body)), { ok: true })
  const urlSafe = signature.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  t.same(
    verifyInbound(config, request({ 'x-shopify-hmac-sha256': urlSafe }, body)),
    { ok: true },
    'URL-safe, unpadded',
  )
  t.same(verifyInbound(config, request({ 'x-shopify-hmac-sha256': signature }, `${body} `)), {
    ok: false,
    reason: 'X-Shopify-Hmac-Sha256: signature does not match',
  })
  t.same(verifyInbound(config, request({ 'x-shopify-hmac-sha256': 'not base64!' }, body)), {
    ok: false,
    reason: 'X-Shopify-Hmac-Sha256: not a base64 signature',
  })
  t.same(verifyInbound(config, request({ 'x-shopify-hmac-sha256': 'AAAA' }, body)), {
    ok: false,
    reason: 'X-Shopify-Hmac-Sha256: signature has the wrong length',
  })
})

t.test('the raw bytes are signed, not a re-encoding of them', async (t) => {
  const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x7d])
  const config: Verification = {
    type: 'hmac',
    header: 'x-sig',
    algorithm: 'sha256',
    encoding: 'hex',
    secret: 'k',
  }
  const signature = createHmac('sha256', 'k').update(bytes).digest('hex')
  t.same(
    verifyInbound(config, { headers: { 'x-sig': signature }, query: {}, rawBody: bytes, now }),
    { ok: true },
  )
})

const stripeSecret = 'whsec_test_abc123'
const stripeBody = '{"id":"evt_1","type":"customer.created"}'
const stripeSign = (t: number, body = stripeBody, secret = stripeSecret) =>
  createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')

t.test('Stripe: t and v1, computed independently, within the tolerance', async (t) => {
  const config: Verification = { type: 'stripe', secret: stripeSecret }
  const ts = nowSeconds - 30
  const good = `t=${ts},v1=${stripeSign(ts)},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39`
  t.same(verifyInbound(config, request({ 'stripe-signature': good }, stripeBody)), { ok: true })
  const rolled = `t=${ts},v1=${stripeSign(ts, stripeBody, 'whsec_old')},v1=${stripeSign(ts)}`
  t.same(
    verifyInbound(config, request({ 'stripe-signature': rolled }, stripeBody)),
    { ok: true },
    'any v1 may match (secret rolling)',
  )

  const stale = nowSeconds - 301
  const future = nowSeconds + 301
  const cases: [string, string][] = [
    [`t=${stale},v1=${stripeSign(stale)}`, 'timestamp is outside the 300 s tolerance'],
    [`t=${future},v1=${stripeSign(future)}`, 'timestamp is outside the 300 s tolerance'],
    [`t=${ts},v1=${stripeSign(ts + 1)}`, 'stripe-signature: signature does not match'],
    [`t=${ts + 1},v1=${stripeSign(ts)}`, 'stripe-signature: signature does not match'],
    [
      `t=${ts},v1=${stripeSign(ts).slice(0, 62)}`,
      'stripe-signature: signature has the wrong length',
    ],
    [`t=${ts},v1=xyz`, 'stripe-signature: a v1 signature is not hex'],
    [`v1=${stripeSign(ts)}`, 'stripe-signature: no t= timestamp'],
    [`t=${ts}`, 'stripe-signature: no v1 signature'],
    [`t=abc,v1=${stripeSign(ts)}`, 'stripe-signature: malformed t='],
    [`t=${ts},t=${ts},v1=${stripeSign(ts)}`, 'stripe-signature: malformed t='],
    ['garbage', 'stripe-signature: no t= timestamp'],
  ]
  for (const [header, reason] of cases) {
    const result = verifyInbound(config, request({ 'stripe-signature': header }, stripeBody))
    t.same(result, { ok: false, reason }, header)
    t.ok(!result.ok && leaksNothing(result.reason, stripeSecret, stripeSign(ts)))
  }
  t.same(
    verifyInbound(
      { ...config, toleranceSeconds: 600 },
      request({ 'stripe-signature': `t=${stale},v1=${stripeSign(stale)}` }, stripeBody),
    ),
    { ok: true },
  )
  t.same(
    verifyInbound(
      { ...config, header: 'X-Custom-Sig' },
      request({ 'x-custom-sig': good }, stripeBody),
    ),
    { ok: true },
  )
})

t.test('Standard Webhooks: signed by the standardwebhooks package', async (t) => {
  const secret = `whsec_${Buffer.from('a-32-byte-secret-for-the-tests!!').toString('base64')}`
  const webhook = new Webhook(secret)
  const id = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W'
  const sentAt = new Date(now.getTime() - 10_000)
  const body = '{"type":"contact.created","data":{"email":"ana@acme.example"}}'
  const signature = webhook.sign(id, sentAt, body)
  const headers = (over: Record<string, string> = {}) => ({
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
    'webhook-signature': signature,
    ...over,
  })
  const config: Verification = { type: 'standard_webhooks', secret }
  t.same(
    verifyInbound(config, request(headers(), body)),
    { ok: true, replayId: id },
    'the message id comes back for replay checks',
  )
  t.same(
    verifyInbound({ ...config, secret: secret.slice(6) }, request(headers(), body)),
    { ok: true, replayId: id },
    'the whsec_ prefix is optional',
  )

  const other = new Webhook(
    `whsec_${Buffer.from('another-secret-another-secret!!!').toString('base64')}`,
  ).sign(id, sentAt, body)
  t.same(
    verifyInbound(
      config,
      request(headers({ 'webhook-signature': `v1a,xyz ${other} ${signature}` }), body),
    ),
    { ok: true, replayId: id },
    'several signatures, one matching',
  )

  const svix = {
    'svix-id': id,
    'svix-timestamp': headers()['webhook-timestamp'],
    'svix-signature': signature,
  }
  t.same(
    verifyInbound(config, request(svix, body)),
    { ok: true, replayId: id },
    'Svix header names',
  )
  const shouting = Object.fromEntries(
    Object.entries(headers()).map(([k, v]) => [k.toUpperCase(), v]),
  )
  t.same(verifyInbound(config, request(shouting, body)), { ok: true, replayId: id }, 'header case')
  const twice = { ...headers(), 'Webhook-Signature': signature }
  t.notOk(verifyInbound(config, request(twice, body)).ok, 'one header in two spellings is refused')

  const stale = new Date(now.getTime() - 301_000)
  const longId = 'm'.repeat(300)
  const noMatch = 'no signature matches a signing secret'
  const cases: [Record<string, string>, string, string?][] = [
    [headers({ 'webhook-signature': other }), noMatch],
    [headers(), noMatch, `${body} `],
    [headers({ 'webhook-id': 'msg_other' }), noMatch],
    [
      headers({
        'webhook-timestamp': String(Math.floor(stale.getTime() / 1000)),
        'webhook-signature': webhook.sign(id, stale, body),
      }),
      'webhook-timestamp is more than 300 seconds from now',
    ],
    [headers({ 'webhook-signature': 'v1,AAAA' }), noMatch],
    [headers({ 'webhook-signature': 'v1,***' }), noMatch],
    [headers({ 'webhook-signature': 'v2,abc' }), noMatch],
    [headers({ 'webhook-timestamp': 'soon' }), 'webhook-timestamp is not a Unix time in seconds'],
    [
      headers({ 'webhook-id': longId, 'webhook-signature': webhook.sign(longId, sentAt, body) }),
      'webhook-id: malformed',
    ],
    [
      { 'webhook-id': id, 'webhook-signature': signature },
      'missing webhook-id, webhook-timestamp or webhook-signature header',
    ],
  ]
  for (const [h, reason, b] of cases) {
    const result = verifyInbound(config, request(h, b ?? body))
    t.same(result, { ok: false, reason }, reason)
    t.ok(!result.ok && leaksNothing(result.reason, secret, secret.slice(6), signature.slice(3)))
  }
})

t.test('basic auth compares both parts in constant time', async (t) => {
  const config: Verification = { type: 'basic', username: 'crm', password: 'p@ss:word' }
  const basic = (user: string, pass: string) =>
    `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
  t.same(verifyInbound(config, request({ authorization: basic('crm', 'p@ss:word') })), { ok: true })
  for (const [header, reason] of [
    [basic('crm', 'wrong'), 'authorization: the credentials do not match'],
    [basic('other', 'p@ss:word'), 'authorization: the credentials do not match'],
    [basic('crm', 'p@ss:wordx'), 'authorization: the credentials do not match'],
    ['Bearer abc', 'authorization: not Basic credentials'],
    ['Basic !!!', 'authorization: not Basic credentials'],
    [`Basic ${Buffer.from('nocolon').toString('base64')}`, 'authorization: not Basic credentials'],
  ] as const) {
    const result = verifyInbound(config, request({ authorization: header }))
    t.same(result, { ok: false, reason }, header)
    t.ok(!result.ok && leaksNothing(result.reason, 'p@ss:word'))
  }
  t.same(verifyInbound(config, request({})), { ok: false, reason: 'authorization: missing' })
})

t.test('secret header and secret query parameter', async (t) => {
  const header: Verification = {
    type: 'secret_header',
    header: 'X-Webhook-Token',
    secret: 'tok_123',
  }
  t.same(verifyInbound(header, request({ 'x-webhook-token': 'tok_123' })), { ok: true })
  t.same(verifyInbound(header, request({ 'x-webhook-token': 'tok_12' })), {
    ok: false,
    reason: 'X-Webhook-Token: does not match',
  })
  t.same(verifyInbound(header, request({})), { ok: false, reason: 'X-Webhook-Token: missing' })

  const query: Verification = { type: 'secret_query', param: 'key', secret: 'tok_123' }
  t.same(verifyInbound(query, request({}, '', { key: 'tok_123' })), { ok: true })
  t.same(verifyInbound(query, request({}, '', { key: 'TOK_123' })), {
    ok: false,
    reason: 'query parameter key: does not match',
  })
  t.same(verifyInbound(query, request({}, '', { key: ['tok_123', 'x'] })), {
    ok: false,
    reason: 'query parameter key: sent more than once',
  })
  t.same(verifyInbound(query, request({}, '', {})), {
    ok: false,
    reason: 'query parameter key: missing',
  })
  t.same(verifyInbound({ ...query, param: 'toString' }, request({}, '', {})), {
    ok: false,
    reason: 'query parameter toString: missing',
  })
})

t.test('none accepts; header names for redaction follow the config', async (t) => {
  t.same(verifyInbound({ type: 'none' }, request({})), { ok: true })
  t.same(verificationHeaderNames({ type: 'stripe', secret: 's' }), ['stripe-signature'])
  t.same(verificationHeaderNames({ type: 'secret_header', header: 'X-Token', secret: 's' }), [
    'x-token',
  ])
  t.same(verificationHeaderNames({ type: 'none' }), [])
})

t.test('arbitrary signature headers are rejected cleanly, never thrown', async () => {
  const configs: Verification[] = [
    {
      type: 'hmac',
      header: 'x-sig',
      algorithm: 'sha256',
      encoding: 'hex',
      prefix: 'sha256=',
      secret: 'k',
    },
    { type: 'hmac', header: 'x-sig', algorithm: 'sha1', encoding: 'base64', secret: 'k' },
    { type: 'stripe', header: 'x-sig', secret: 'k' },
    { type: 'secret_header', header: 'x-sig', secret: 'k' },
    { type: 'basic', username: 'u', password: 'p' },
  ]
  fc.assert(
    fc.property(
      fc.constantFrom(...configs),
      fc.string({ unit: 'binary', maxLength: 2000 }),
      fc.uint8Array({ maxLength: 64 }),
      (config, header, body) => {
        const result = verifyInbound(config, {
          headers: { 'x-sig': header, authorization: header },
          query: {},
          rawBody: Buffer.from(body),
          now,
        })
        return !result.ok && typeof result.reason === 'string'
      },
    ),
    { numRuns: 3000 },
  )
  const swh: Verification = {
    type: 'standard_webhooks',
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  }
  fc.assert(
    fc.property(
      fc.string({ maxLength: 300 }),
      fc.string({ maxLength: 20 }),
      fc.string({ maxLength: 300 }),
      (id, ts, sig) => {
        const result = verifyInbound(
          swh,
          request({ 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': sig }),
        )
        return !result.ok
      },
    ),
    { numRuns: 2000 },
  )
})
