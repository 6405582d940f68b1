import { Ajv } from 'ajv'
import fc from 'fast-check'
import t from 'tap'
import { Value } from 'typebox/value'
import { coerceValue } from '../../src/inbound/coerce-value.js'
import {
  coerceParameters,
  InboundParameter,
  inferType,
  parametersFromSample,
} from '../../src/inbound/parameters.js'
import { parseInboundBody } from '../../src/inbound/parse-body.js'

const value = (type: Parameters<typeof coerceValue>[0], raw: unknown) => {
  const result = coerceValue(type, raw)
  return result.ok ? result.value : `✗ ${result.problem}`
}

t.test('the schema takes dot paths and refuses reserved segments', async (t) => {
  const ajv = new Ajv({ strict: false })
  const validate = ajv.compile(InboundParameter)
  const good = [
    { name: 'customer.email', type: 'email', required: true },
    { name: 'items[0].sku', type: 'string', required: false },
    { name: 'Custom Field', type: 'date', required: false },
  ]
  for (const def of good) {
    t.equal(validate(def), true, def.name)
    t.equal(Value.Check(InboundParameter, def), true, def.name)
  }
  const bad = [
    { name: 'a.__proto__', type: 'string', required: true },
    { name: 'constructor', type: 'string', required: true },
    { name: 'a..b', type: 'string', required: true },
    { name: 'a', type: 'uuid', required: true },
    { name: 'a', type: 'string' },
    { name: 'a', type: 'string', required: true, extra: 1 },
  ]
  for (const def of bad) {
    t.equal(validate(def), false, JSON.stringify(def))
    t.equal(Value.Check(InboundParameter, def), false, JSON.stringify(def))
  }
})

t.test('numbers come from numbers and numeric text only', async (t) => {
  t.equal(value('number', '42'), 42)
  t.equal(value('number', ' -1.5e3 '), -1500)
  t.equal(value('number', 7), 7)
  for (const bad of ['', 'abc', '0x10', 'NaN', 'Infinity', '1e999', '1,5', true, null, [1]]) {
    t.equal(value('number', bad), '✗ not a number', String(bad))
  }
})

t.test('booleans take the spellings senders use', async (t) => {
  for (const yes of [true, 'true', 'TRUE', '1', 1, 'yes', 'on', ' On '])
    t.equal(value('boolean', yes), true, String(yes))
  for (const no of [false, 'false', '0', 0, 'no', 'off'])
    t.equal(value('boolean', no), false, String(no))
  t.match(value('boolean', 'maybe'), /^✗ not a boolean/)
  t.match(value('boolean', 2), /^✗ not a boolean/)
})

t.test('dates become ISO 8601 in UTC', async (t) => {
  t.equal(value('date', '2024-05-31'), '2024-05-31T00:00:00.000Z')
  t.equal(value('date', '2024-05-31T10:00:00Z'), '2024-05-31T10:00:00.000Z')
  t.equal(value('date', '2024-05-31T12:30:00+02:00'), '2024-05-31T10:30:00.000Z')
  t.equal(value('date', '2024-05-31 12:30:15.25 -0130'), '2024-05-31T14:00:15.250Z')
  t.equal(value('date', '2024-05-31T10:00'), '2024-05-31T10:00:00.000Z', 'no offset means UTC')
  t.equal(value('date', 1717149600), '2024-05-31T10:00:00.000Z', 'Unix seconds')
  t.equal(value('date', 1717149600123), '2024-05-31T10:00:00.123Z', 'Unix milliseconds')
  t.equal(value('date', '1717149600'), '2024-05-31T10:00:00.000Z')
  t.equal(
    value('date', '0099-01-01'),
    '0099-01-01T00:00:00.000Z',
    'two-digit years stay themselves',
  )
  for (const bad of [
    '2024-02-30',
    '2023-02-29',
    '2024-13-01',
    '2024-05-31T24:00',
    '31/05/2024',
    'yesterday',
    '20240531',
    '',
    true,
  ]) {
    t.match(value('date', bad), /^✗ not a date/, String(bad))
  }
  t.equal(value('date', '2024-02-29'), '2024-02-29T00:00:00.000Z')
})

t.test('emails are trimmed and lowercased; phones become digits with a leading +', async (t) => {
  t.equal(value('email', '  Ana.Lima+crm@ACME.Example '), 'ana.lima+crm@acme.example')
  for (const bad of [
    'ana',
    'ana@',
    '@acme.example',
    'ana@acme',
    'a b@acme.example',
    'a@acme..example',
    'a@b@c.example',
    42,
  ]) {
    t.equal(value('email', bad), '✗ not an email address', String(bad))
  }
  t.equal(value('phone', '+1 (555) 010-9999'), '+15550109999')
  t.equal(value('phone', '020 7946 0958'), '02079460958')
  t.equal(value('phone', '+44.20.7946.0958'), '+442079460958')
  t.equal(value('phone', 5550109999), '5550109999')
  for (const bad of ['call me', '12', '1+2345', '+1 555 010 9999 ext 12', '1234567890123456', '']) {
    t.equal(value('phone', bad), '✗ not a phone number', bad)
  }
})

t.test('coerceParameters converts in place, keeps the rest, and enforces required', async (t) => {
  const raw = {
    customer: { email: ' Ana@Acme.Example', phone: '', age: '42' },
    items: [{ qty: '3' }],
    extra: 'kept',
  }
  const result = coerceParameters(
    [
      { name: 'customer.email', type: 'email', required: true },
      { name: 'customer.phone', type: 'phone', required: false },
      { name: 'customer.age', type: 'number', required: false },
      { name: 'customer.vip', type: 'boolean', required: false },
      { name: 'items[0].qty', type: 'number', required: true },
    ],
    raw,
  )
  t.same(result, {
    ok: true,
    values: {
      customer: { email: 'ana@acme.example', age: 42 },
      items: [{ qty: 3 }],
      extra: 'kept',
    },
  })
})

t.test('a refused call leaves the parameters as they were sent', async (t) => {
  const raw = { customer: { email: 'nope', phone: '', age: '42' }, items: [{ qty: '3' }] }
  const sent = structuredClone(raw)
  const result = coerceParameters(
    [
      { name: 'customer.age', type: 'number', required: false },
      { name: 'customer.phone', type: 'phone', required: false },
      { name: 'items[0].qty', type: 'number', required: true },
      { name: 'customer.email', type: 'email', required: true },
    ],
    raw,
  )
  t.same(result, { ok: false, reason: 'customer.email: not an email address' })
  t.same(raw, sent, 'converted and removed values are put back')
})

t.test('coerceParameters names every offending parameter', async (t) => {
  const result = coerceParameters(
    [
      { name: 'customer.email', type: 'email', required: true },
      { name: 'customer.name', type: 'string', required: true },
      { name: 'score', type: 'number', required: false },
    ],
    { customer: { email: 'not-an-email', name: '  ' }, score: 'high' },
  )
  t.same(result, {
    ok: false,
    reason: 'customer.email: not an email address; customer.name: required; score: not a number',
  })
  const many = coerceParameters(
    Array.from({ length: 8 }, (_, i) => ({
      name: `p${i}`,
      type: 'string' as const,
      required: true,
    })),
    {},
  )
  t.equal(
    !many.ok && many.reason,
    'p0: required; p1: required; p2: required; p3: required; p4: required; and 3 more',
  )
})

t.test('coerceParameters never writes through a reserved or inherited name', async (t) => {
  const result = coerceParameters(
    [{ name: '__proto__.polluted', type: 'string', required: false }],
    {},
  )
  t.same(result, { ok: false, reason: '__proto__.polluted: not a valid parameter name' })
  const inherited = coerceParameters([{ name: 'toString', type: 'string', required: true }], {})
  t.same(
    inherited,
    { ok: false, reason: 'toString: required' },
    'inherited members are not parameters',
  )
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('parametersFromSample turns a JSON sample into typed dot paths', async (t) => {
  const sample = {
    customer: {
      email: 'ana@acme.example',
      phone: '+1 555 010 9999',
      vip: true,
      since: '2024-05-31',
    },
    order: { total: 99.5, count: '3', zip: '02134', items: [{ sku: 'A-1', qty: 2 }], tags: ['x'] },
    note: null,
    empty: {},
    'dotted.key': 'skipped',
    __proto__: 'skipped',
  }
  t.same(parametersFromSample(JSON.parse(JSON.stringify(sample))), [
    { name: 'customer.email', type: 'email', required: false },
    { name: 'customer.phone', type: 'phone', required: false },
    { name: 'customer.vip', type: 'boolean', required: false },
    { name: 'customer.since', type: 'date', required: false },
    { name: 'order.total', type: 'number', required: false },
    { name: 'order.count', type: 'number', required: false },
    { name: 'order.zip', type: 'string', required: false },
    { name: 'order.items[0].sku', type: 'string', required: false },
    { name: 'order.items[0].qty', type: 'number', required: false },
    { name: 'order.tags[0]', type: 'string', required: false },
    { name: 'note', type: 'string', required: false },
  ])
})

t.test('parametersFromSample reads a form sample the same way', async (t) => {
  const parsed = parseInboundBody({
    rawBody: Buffer.from('lead[email]=a%40b.example&lead[score]=12&lead[opt_in]=true'),
    format: 'form',
  })
  t.ok(parsed.ok)
  t.same(parsed.ok && parametersFromSample(parsed.params), [
    { name: 'lead.email', type: 'email', required: false },
    { name: 'lead.score', type: 'number', required: false },
    { name: 'lead.opt_in', type: 'boolean', required: false },
  ])
})

t.test('every inferred parameter is valid and coerces its own sample', async () => {
  const ajv = new Ajv({ strict: false })
  const validate = ajv.compile(InboundParameter)
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (sample) => {
      const defs = parametersFromSample(sample)
      if (!defs.every((def) => validate(def))) return false
      const result = coerceParameters(
        defs,
        (typeof sample === 'object' && sample !== null ? sample : {}) as Record<string, unknown>,
      )
      return result.ok
    }),
    { numRuns: 1000 },
  )
  fc.assert(fc.property(fc.anything(), (anything) => typeof inferType(anything) === 'string'))
})
