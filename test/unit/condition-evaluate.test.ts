import fc from 'fast-check'
import t from 'tap'
import type {
  ConditionGroup,
  ConditionItem,
  ConditionOperator,
  ConditionTest,
} from '../../src/conditions/condition-schema.js'
import { evaluate } from '../../src/conditions/evaluate.js'

const test = (
  field: string,
  op: ConditionOperator,
  rest: Partial<ConditionTest> = {},
): ConditionTest => ({
  field,
  op,
  ...rest,
})
const match = (
  item: ConditionItem,
  fields: Record<string, unknown>,
  previous?: Record<string, unknown>,
) => evaluate({ all: [item] }, { fields, previous })

const lead = {
  lead: {
    status: 'Qualified',
    email: 'Ana@Acme.example',
    age: 42,
    score: '17.5',
    created_at: '2024-05-31T10:00:00Z',
    tags: ['vip', 'Partner'],
    office: { name: 'Lisbon' },
    tracker: '',
    empty: [],
  },
}

t.test('no condition matches everything', async (t) => {
  t.equal(evaluate(undefined, { fields: {} }), true)
})

t.test('equals compares trimmed text without case, numbers as numbers', async (t) => {
  t.equal(match(test('lead.status', 'equals', { value: 'qualified ' }), lead), true)
  t.equal(match(test('lead.status', 'equals', { value: 'New' }), lead), false)
  t.equal(match(test('lead.age', 'equals', { value: '42.0' }), lead), true)
  t.equal(match(test('lead.score', 'equals', { value: 17.5 }), lead), true)
  t.equal(match(test('lead.office.name', 'equals', { value: 'LISBON' }), lead), true)
  t.equal(match(test('lead.tags.1', 'equals', { value: 'partner' }), lead), true)
  t.equal(match(test('lead.tags[0]', 'equals', { value: 'VIP' }), lead), true)
  // Text on both sides stays text: leading zeros matter in zip codes and ids.
  t.equal(match(test('zip', 'equals', { value: '1234' }), { zip: '01234' }), false)
  t.equal(match(test('lead.missing', 'equals', { value: '' }), lead), true, 'missing is empty')
  t.equal(match(test('lead.missing', 'not_equals', { value: 'x' }), lead), true)
})

t.test('paths read own properties only', async (t) => {
  t.equal(match(test('lead.constructor', 'is_empty'), lead), true)
  t.equal(match(test('lead.__proto__', 'is_empty'), lead), true)
  t.equal(match(test('lead.status.length', 'is_empty'), lead), true)
  t.equal(match(test('lead.tags.length', 'is_empty'), lead), true)
})

t.test('contains, starts_with and ends_with', async (t) => {
  t.equal(match(test('lead.email', 'contains', { value: 'ACME' }), lead), true)
  t.equal(match(test('lead.email', 'not_contains', { value: 'acme' }), lead), false)
  t.equal(match(test('lead.email', 'starts_with', { value: ' ana@' }), lead), true)
  t.equal(match(test('lead.email', 'ends_with', { value: '.EXAMPLE' }), lead), true)
  t.equal(match(test('lead.email', 'ends_with', { value: 'acme' }), lead), false)
  t.equal(match(test('lead.tags', 'contains', { value: 'partner' }), lead), true, 'array element')
  t.equal(
    match(test('lead.tags', 'contains', { value: 'part' }), lead),
    false,
    'not a substring of one',
  )
})

t.test('is_empty and is_not_empty', async (t) => {
  for (const field of ['lead.tracker', 'lead.empty', 'lead.missing', 'lead.status.x']) {
    t.equal(match(test(field, 'is_empty'), lead), true, field)
  }
  t.equal(match(test('n', 'is_empty'), { n: {} }), true, 'empty object')
  t.equal(match(test('n', 'is_empty'), { n: '  \n' }), true, 'blank text')
  for (const n of [0, false, 'x', [0], { a: 1 }]) {
    t.equal(match(test('n', 'is_not_empty'), { n }), true, JSON.stringify(n))
  }
})

t.test('greater_than and less_than: numbers, then ISO dates', async (t) => {
  t.equal(match(test('lead.age', 'greater_than', { value: 41 }), lead), true)
  t.equal(match(test('lead.age', 'greater_than', { value: '42' }), lead), false)
  t.equal(match(test('lead.score', 'less_than', { value: 100 }), lead), true, '"17.5" < 100')
  t.equal(match(test('n', 'greater_than', { value: 9 }), { n: '10' }), true, 'not text order')
  t.equal(match(test('lead.created_at', 'greater_than', { value: '2024-05-31' }), lead), true)
  t.equal(
    match(test('lead.created_at', 'less_than', { value: '2024-05-31T12:00:00+01:00' }), lead),
    true,
  )
  t.equal(
    match(test('lead.created_at', 'less_than', { value: '2024-05-31T10:00:01' }), lead),
    true,
    'offset-less date-times read as UTC',
  )
  t.equal(
    match(test('d', 'greater_than', { value: '2024-01-01' }), { d: '2024-02-31' }),
    false,
    'no such date',
  )
  t.equal(match(test('lead.status', 'greater_than', { value: 3 }), lead), false, 'incomparable')
  t.equal(match(test('lead.status', 'less_than', { value: 3 }), lead), false, 'incomparable')
  t.equal(
    match(test('n', 'greater_than', { value: 1 }), { n: '0x10' }),
    false,
    'hex is not a number',
  )
})

t.test('in and not_in', async (t) => {
  t.equal(match(test('lead.status', 'in', { value: ['new', 'qualified'] }), lead), true)
  t.equal(match(test('lead.status', 'not_in', { value: ['new', 'qualified'] }), lead), false)
  t.equal(match(test('lead.age', 'in', { value: ['41', '42'] }), lead), true)
  t.equal(match(test('lead.tags', 'in', { value: ['partner', 'x'] }), lead), true, 'any element')
  t.equal(match(test('lead.tags', 'in', { value: ['x'] }), lead), false)
})

t.test('changed and changed_from_to use the previous version', async (t) => {
  const before = { lead: { ...lead.lead, status: 'New', tags: ['vip'] } }
  t.equal(match(test('lead.status', 'changed'), lead, before), true)
  t.equal(match(test('lead.email', 'changed'), lead, before), false)
  t.equal(match(test('lead.tags', 'changed'), lead, before), true, 'arrays element by element')
  t.equal(match(test('lead.tags', 'changed'), lead, lead), false)
  t.equal(match(test('lead.status', 'changed'), lead), false, 'no previous: a creation')
  t.equal(match(test('lead.age', 'changed'), lead, { lead: { age: '42' } }), false, 'same number')
  t.equal(match(test('lead.status', 'changed'), lead, { lead: {} }), true, 'appeared')
  const fromTo = test('lead.status', 'changed_from_to', { from: 'new', to: 'QUALIFIED' })
  t.equal(match(fromTo, lead, before), true)
  t.equal(match(fromTo, lead, { lead: { status: 'Lost' } }), false, 'other from')
  t.equal(match(fromTo, before, lead), false, 'reverse')
  t.equal(match(fromTo, lead), false, 'no previous')
  t.equal(
    match(test('s', 'changed_from_to', { from: null, to: 'x' }), { s: 'x' }, {}),
    true,
    'from empty',
  )
})

t.test('groups nest', async (t) => {
  const tree: ConditionGroup = {
    all: [
      test('lead.status', 'equals', { value: 'Qualified' }),
      {
        any: [
          test('lead.office.name', 'equals', { value: 'Porto' }),
          test('lead.tags', 'contains', { value: 'vip' }),
        ],
      },
    ],
  }
  t.equal(evaluate(tree, { fields: lead }), true)
  t.equal(evaluate(tree, { fields: { lead: { ...lead.lead, tags: [] } } }), false)
})

// Property tests over open-ended values and trees.

const scalar = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.double(),
  fc.integer().map(String),
  fc.boolean(),
  fc.constant(null),
)
const fieldValue = fc.oneof(scalar, fc.array(scalar, { maxLength: 4 }), fc.constant(undefined))
const FIELDS = ['a', 'b', 'c.d']
const record = fc.record({ a: fieldValue, b: fieldValue, c: fc.record({ d: fieldValue }) })
const anyTest: fc.Arbitrary<ConditionTest> = fc.record({
  field: fc.constantFrom(...FIELDS),
  op: fc.constantFrom<ConditionOperator>(
    'equals',
    'not_equals',
    'contains',
    'not_contains',
    'starts_with',
    'ends_with',
    'is_empty',
    'is_not_empty',
    'greater_than',
    'less_than',
    'in',
    'not_in',
    'changed',
    'changed_from_to',
  ),
  value: fc.oneof(scalar, fc.array(scalar, { maxLength: 3 })),
  from: scalar,
  to: scalar,
})
const { item: anyItem } = fc.letrec<{ item: ConditionItem; group: ConditionGroup }>((tie) => ({
  item: fc.oneof({ depthSize: 'small', withCrossShrink: true }, anyTest, tie('group')),
  group: fc.oneof(
    fc.record({ all: fc.array(tie('item'), { maxLength: 3 }) }),
    fc.record({ any: fc.array(tie('item'), { maxLength: 3 }) }),
  ),
}))
const input = fc.record({ fields: record, previous: fc.option(record, { nil: undefined }) })

t.test('property: negated operators are exact negations', async () => {
  const pairs: [ConditionOperator, ConditionOperator][] = [
    ['equals', 'not_equals'],
    ['contains', 'not_contains'],
    ['in', 'not_in'],
    ['is_empty', 'is_not_empty'],
  ]
  fc.assert(
    fc.property(anyTest, input, fc.constantFrom(...pairs), (base, data, [op, negated]) => {
      const yes = evaluate({ all: [{ ...base, op }] }, data)
      const no = evaluate({ all: [{ ...base, op: negated }] }, data)
      return yes === !no
    }),
  )
})

t.test('property: group laws', async () => {
  fc.assert(
    fc.property(anyItem, anyItem, input, (x, y, data) => {
      const one = evaluate({ all: [x] }, data)
      return (
        evaluate({ any: [x] }, data) === one &&
        evaluate({ all: [{ all: [x] }] }, data) === one &&
        evaluate({ all: [x, y] }, data) === (one && evaluate({ all: [y] }, data)) &&
        evaluate({ any: [x, y] }, data) === (one || evaluate({ any: [y] }, data))
      )
    }),
  )
  fc.assert(
    fc.property(input, (data) => evaluate({ all: [] }, data) && !evaluate({ any: [] }, data)),
  )
})

t.test('property: equals is reflexive, ignores case and surrounding blanks', async () => {
  fc.assert(fc.property(scalar, (v) => match(test('a', 'equals', { value: v }), { a: v })))
  fc.assert(
    fc.property(fc.string(), (s) =>
      match(test('a', 'equals', { value: ` ${s.toUpperCase()}\t` }), { a: s.toLowerCase() }),
    ),
  )
})

t.test('property: numbers are ordered exactly one way', async () => {
  const finite = fc.double({ noNaN: true, noDefaultInfinity: true })
  fc.assert(
    fc.property(finite, finite, fc.boolean(), (a, b, asText) => {
      const fields = { a: asText ? String(a) : a }
      const gt = match(test('a', 'greater_than', { value: b }), fields)
      const lt = match(test('a', 'less_than', { value: b }), fields)
      const eq = match(test('a', 'equals', { value: b }), fields)
      return [gt, lt, eq].filter(Boolean).length === 1 && gt === a > b && lt === a < b
    }),
  )
})

t.test('property: dates order like their instants', async () => {
  const date = fc.date({
    min: new Date('1900-01-01T00:00:00Z'),
    max: new Date('2200-01-01T00:00:00Z'),
    noInvalidDate: true,
  })
  fc.assert(
    fc.property(date, date, (a, b) => {
      const gt = match(test('a', 'greater_than', { value: b.toISOString() }), {
        a: a.toISOString(),
      })
      return gt === a.getTime() > b.getTime()
    }),
  )
})
