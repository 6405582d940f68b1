import { webcrypto } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import t from 'tap'
import {
  generateSigningSecret,
  secretKey,
  signRequest,
  verifyStandardWebhook,
} from '../../src/signing/signatures.js'

// The known-answer vector from the Standard Webhooks reference libraries.
const vector = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  msgId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: new Date(1614265330 * 1000),
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
}

t.test('the Standard Webhooks known answer', async (t) => {
  const headers = signRequest({ ...vector, secrets: [vector.secret] })
  t.equal(headers['webhook-id'], vector.msgId)
  t.equal(headers['webhook-timestamp'], '1614265330')
  t.equal(headers['webhook-signature'], vector.signature)
})

t.test('x-hookline-signature is the hex HMAC-SHA256 of the raw body', async (t) => {
  const headers = signRequest({ ...vector, secrets: [vector.secret] })
  // Computed independently, through Web Crypto.
  const key = await webcrypto.subtle.importKey(
    'raw',
    secretKey(vector.secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  const mac = await webcrypto.subtle.sign('HMAC', key, new TextEncoder().encode(vector.body))
  t.equal(headers['x-hookline-signature'], `sha256=${Buffer.from(mac).toString('hex')}`)
})

t.test('during a rotation, receivers holding either secret accept the request', async (t) => {
  const current = generateSigningSecret()
  const previous = generateSigningSecret()
  const now = new Date()
  const body = JSON.stringify({ lead: { name: 'Zoë "q" 😀' } })
  const headers = signRequest({
    msgId: 'msg_1',
    timestamp: now,
    body,
    secrets: [current, previous],
  })
  t.equal(headers['webhook-signature'].split(' ').length, 2)
  for (const secret of [current, previous]) {
    t.same(new Webhook(secret).verify(body, { ...headers }), JSON.parse(body))
  }
  t.throws(
    () => new Webhook(generateSigningSecret()).verify(body, { ...headers }),
    /No matching signature/,
  )
  t.throws(() => new Webhook(current).verify(`${body} `, { ...headers }), /No matching signature/)
})

t.test('generated secrets are whsec_ and 24 random bytes', async (t) => {
  const a = generateSigningSecret()
  t.match(a, /^whsec_[A-Za-z0-9+/]{32}$/)
  t.equal(secretKey(a).length, 24)
  t.not(a, generateSigningSecret())
  t.throws(() => secretKey('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'), /whsec_/)
  t.throws(() => secretKey('whsec_not base64!'), /whsec_/)
  t.throws(() => signRequest({ ...vector, secrets: [] }), /at least one secret/)
})

t.test('verifyStandardWebhook', async (t) => {
  const secret = generateSigningSecret()
  const other = generateSigningSecret()
  const now = new Date('2026-01-01T00:00:00Z')
  const body = '{"id":1}'
  // Signed by the reference library, so this is not our code checking itself.
  const signature = new Webhook(secret).sign('msg_2', now, body)
  const headers = {
    'webhook-id': 'msg_2',
    'webhook-timestamp': String(now.getTime() / 1000),
    'webhook-signature': signature,
  }
  const verify = (over: Partial<Parameters<typeof verifyStandardWebhook>[0]>) =>
    verifyStandardWebhook({ headers, body, secrets: [secret], now, ...over })

  t.same(verify({}), { ok: true, msgId: 'msg_2', timestamp: now })
  t.equal(verify({ body: Buffer.from(body) }).ok, true, 'raw bytes')
  t.equal(verify({ secrets: [other, secret] }).ok, true, 'any of our secrets')
  t.equal(
    verify({ headers: { ...headers, 'webhook-signature': `v1,AAAA v2,x ${signature}` } }).ok,
    true,
    'any of theirs',
  )
  t.equal(
    verify({
      headers: {
        'svix-id': 'msg_2',
        'svix-timestamp': headers['webhook-timestamp'],
        'svix-signature': signature,
      },
    }).ok,
    true,
    'svix- headers',
  )
  t.equal(verify({ now: new Date(now.getTime() + 299_000) }).ok, true, 'within 5 minutes')

  const refusals: [Partial<Parameters<typeof verifyStandardWebhook>[0]>, RegExp][] = [
    [{ body: '{"id":2}' }, /no signature matches/],
    [{ secrets: [other] }, /no signature matches/],
    [{ headers: { ...headers, 'webhook-id': 'msg_3' } }, /no signature matches/],
    [
      { headers: { ...headers, 'webhook-signature': signature.replace('v1,', 'v2,') } },
      /no signature matches/,
    ],
    [{ headers: { ...headers, 'webhook-signature': 'v1,' } }, /no signature matches/],
    [{ now: new Date(now.getTime() + 301_000) }, /300 seconds/],
    [{ now: new Date(now.getTime() - 301_000) }, /300 seconds/],
    [{ headers: { ...headers, 'webhook-timestamp': '2026-01-01' } }, /Unix time/],
    [{ headers: { ...headers, 'webhook-id': undefined } }, /missing/],
    [{ headers: { ...headers, 'webhook-signature': [signature, signature] } }, /missing/],
  ]
  for (const [over, reason] of refusals) {
    const result = verify(over)
    t.equal(result.ok, false)
    if (!result.ok) t.match(result.reason, reason)
  }
})
