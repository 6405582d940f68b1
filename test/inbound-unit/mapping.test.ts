import { Ajv } from 'ajv'
import t from 'tap'
import { applyMapping, InboundMapping, mappingProblem } from '../../src/inbound/mapping.js'
import { REDACTED, redactHeaders, redactQuery } from '../../src/inbound/redact.js'

const params = {
  customer: { email: 'ana@acme.example', name: 'Ana', phone: '+15550109999' },
  items: [{ sku: 'A-1' }],
  score: 0,
  opt_in: false,
  blank: null,
}

t.test('the schema accepts mappings and refuses reserved or malformed paths', async (t) => {
  const ajv = new Ajv({ strict: false })
  const validate = ajv.compile(InboundMapping)
  t.equal(
    validate([
      { source: 'customer.email', target: 'lead.email' },
      { source: 'items[0].sku', target: 'sku' },
    ]),
    true,
  )
  for (const bad of [
    [{ source: 'a', target: 'lead.__proto__.x' }],
    [{ source: 'a.constructor', target: 'x' }],
    [{ source: 'a', target: 'lead[0]' }],
    [{ source: 'a', target: 'lead..x' }],
    [{ source: 'a', target: 'x', extra: 1 }],
    [{ source: '', target: 'x' }],
  ]) {
    t.equal(validate(bad), false, JSON.stringify(bad))
  }
})

t.test('applyMapping fills nested targets and leaves out what was not sent', async (t) => {
  const record = applyMapping(
    [
      { source: 'customer.email', target: 'lead.email' },
      { source: 'customer.name', target: 'lead.full_name' },
      { source: 'items[0].sku', target: 'lead.product.sku' },
      { source: 'score', target: 'score' },
      { source: 'opt_in', target: 'lead.opt_in' },
      { source: 'blank', target: 'lead.note' },
      { source: 'customer.fax', target: 'lead.fax' },
      { source: 'customer.email', target: 'email_copy' },
    ],
    params,
  )
  t.same(record, {
    lead: {
      email: 'ana@acme.example',
      full_name: 'Ana',
      product: { sku: 'A-1' },
      opt_in: false,
      note: null,
    },
    score: 0,
    email_copy: 'ana@acme.example',
  })
})

t.test('applyMapping never writes through reserved or inherited names', async (t) => {
  const record = applyMapping(
    [
      { source: 'customer.email', target: '__proto__.polluted' },
      { source: 'customer.email', target: 'constructor.prototype.polluted' },
      { source: 'customer.email', target: 'toString' },
      { source: 'customer.name', target: 'valueOf.x' },
      { source: 'customer.name', target: 'lead' },
      { source: 'customer.email', target: 'lead.email' },
    ],
    params,
  )
  t.same(record, { toString: 'ana@acme.example', valueOf: { x: 'Ana' }, lead: 'Ana' })
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.equal(Object.getPrototypeOf(record), Object.prototype)
})

t.test('mappingProblem refuses what would depend on entry order', async (t) => {
  t.equal(
    mappingProblem([
      { source: 'a', target: 'lead.email' },
      { source: 'b', target: 'lead.name' },
    ]),
    null,
  )
  t.equal(
    mappingProblem([
      { source: 'a', target: 'x' },
      { source: 'b', target: 'x' },
    ]),
    'mapping: x is filled twice',
  )
  t.equal(
    mappingProblem([
      { source: 'a', target: 'lead' },
      { source: 'b', target: 'lead.email' },
    ]),
    'mapping: lead and lead.email overlap',
  )
  t.equal(
    mappingProblem([{ source: 'a', target: 'lead.__proto__' }]),
    'mapping: lead.__proto__ is not a valid target',
  )
  t.equal(
    mappingProblem([
      { source: 'a', target: 'lead' },
      { source: 'b', target: 'leader' },
    ]),
    null,
    'a shared prefix is not nesting',
  )
})

t.test('redactHeaders masks credentials, signatures and configured names', async (t) => {
  const headers = {
    'content-type': 'application/json',
    authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l',
    'Proxy-Authorization': 'opaque',
    cookie: 'session=abc',
    'x-hub-signature-256': 'sha256=757107ea',
    'x-shopify-hmac-sha256': 'abc=',
    'stripe-signature': 't=1,v1=abc',
    'webhook-signature': 'v1,abc',
    'webhook-id': 'msg_1',
    'x-api-key': 'k',
    'x-custom-auth-token': 't',
    'x-partner-check': 'tok_123',
    'x-forwarded-for': ['10.0.0.1', '10.0.0.2'],
    'set-cookie': ['a=1', 'b=2'],
    ':authority': 'hooks.example',
    missing: undefined,
  }
  const redacted = redactHeaders(headers, ['X-Partner-Check'])
  t.same(redacted, {
    'content-type': 'application/json',
    authorization: `Basic ${REDACTED}`,
    'Proxy-Authorization': REDACTED,
    cookie: REDACTED,
    'x-hub-signature-256': REDACTED,
    'x-shopify-hmac-sha256': REDACTED,
    'stripe-signature': REDACTED,
    'webhook-signature': REDACTED,
    'webhook-id': 'msg_1',
    'x-api-key': REDACTED,
    'x-custom-auth-token': REDACTED,
    'x-partner-check': REDACTED,
    'x-forwarded-for': ['10.0.0.1', '10.0.0.2'],
    'set-cookie': [REDACTED, REDACTED],
    ':authority': 'hooks.example',
  })
  t.equal(headers.authorization, 'Basic YWxhZGRpbjpvcGVuc2VzYW1l', 'the input is not modified')
  const hostile = redactHeaders(JSON.parse('{"__proto__":"x","authorization":"Bearer abc.def"}'))
  t.same(
    Object.keys(hostile),
    ['__proto__', 'authorization'],
    'a header named __proto__ is kept as data',
  )
  t.equal(hostile.authorization, `Bearer ${REDACTED}`)
  t.equal(Object.getPrototypeOf(hostile), Object.prototype)
})

t.test('redactQuery masks the secret parameter', async (t) => {
  t.same(redactQuery({ key: 'tok_123', page: '2', many: ['a', 'b'] }, ['key', 'many']), {
    key: REDACTED,
    page: '2',
    many: [REDACTED, REDACTED],
  })
})
