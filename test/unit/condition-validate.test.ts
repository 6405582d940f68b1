import { Ajv } from 'ajv'
import t from 'tap'
import { type Static, Type } from 'typebox'
import { Value } from 'typebox/value'
import {
  ConditionGroup,
  ConditionTest,
  conditionSchemas,
} from '../../src/conditions/condition-schema.js'
import { conditionFields, validateCondition } from '../../src/conditions/validate-condition.js'

const context = { ConditionGroup, ConditionTest }
const check = (value: unknown) => Value.Check(context, ConditionGroup, value)

t.test('the schemas accept trees and reject malformed ones', async (t) => {
  const good: ConditionGroup = {
    all: [
      { field: 'lead.status', op: 'equals', value: 'Qualified' },
      { field: 'lead.case_type', op: 'in', value: ['A', 'B'] },
      { any: [{ field: 'lead.tags[0]', op: 'is_not_empty' }, { all: [] }] },
      { field: 'lead.Custom Field', op: 'changed_from_to', from: null, to: 3 },
    ],
  }
  t.equal(check(good), true)
  const bad = [
    { all: [{ field: 'a', op: 'like', value: 'x' }] },
    { all: [{ field: 'a', op: 'equals', value: { x: 1 } }] },
    { all: [{ field: 'a..b', op: 'equals' }] },
    { all: [{ field: 'a', op: 'equals', extra: 1 }] },
    { all: [], any: [] },
    { none: [] },
    { all: [{ any: [{ field: '', op: 'equals' }] }] },
  ]
  for (const value of bad) t.equal(check(value), false, JSON.stringify(value))
})

t.test('the schemas compile with ajv as shared schemas referenced by $id', async (t) => {
  const ajv = new Ajv({ strict: false })
  for (const schema of conditionSchemas) ajv.addSchema(schema)
  const validate = ajv.compile(
    Type.Object(
      { conditions: Type.Optional(Type.Ref('ConditionGroup')) },
      { additionalProperties: false },
    ),
  )
  t.equal(validate({ conditions: { any: [{ all: [{ field: 'a', op: 'is_empty' }] }] } }), true)
  t.equal(validate({ conditions: { any: [{ all: [{ field: 'a', op: 'nope' }] }] } }), false)
})

t.test('the hand-written group type agrees with the schema', async (t) => {
  // Compile-time: each direction must type-check.
  const fromSchema = (x: Static<typeof ConditionGroup, typeof context>): ConditionGroup => x
  const toSchema = (x: ConditionGroup): Static<typeof ConditionGroup, typeof context> => x
  const tree: ConditionGroup = { any: [{ field: 'a', op: 'equals', value: 1 }] }
  t.same(fromSchema(toSchema(tree)), tree)
})

t.test('validateCondition names each problem with its path', async (t) => {
  const tree: ConditionGroup = {
    all: [
      { field: 'lead.status', op: 'equals', value: 'Qualified' },
      { field: 'a', op: 'equals' },
      { field: 'a', op: 'in', value: 'x' },
      { field: 'a', op: 'in', value: [] },
      { field: 'a', op: 'is_empty', value: 'x' },
      {
        any: [
          { field: 'a', op: 'contains', value: ' ' },
          { field: 'a', op: 'not_equals', value: ['x'] },
        ],
      },
      { field: 'a', op: 'greater_than', value: 'soon' },
      { field: 'a', op: 'less_than', value: '2024-05-31' },
      { field: 'a', op: 'changed_from_to', to: 'x' },
      { field: 'a', op: 'changed_from_to', from: 'X ', to: 'x' },
      { field: 'a', op: 'equals', value: 1, from: 2 },
      { field: 'a.', op: 'is_empty' },
    ],
  }
  t.same(validateCondition(tree), [
    "conditions.all[1].value: 'equals' needs a value",
    "conditions.all[2].value: 'in' needs an array",
    "conditions.all[3].value: 'in' needs at least one value",
    "conditions.all[4].value: 'is_empty' takes no value",
    "conditions.all[5].any[0].value: 'contains' needs a non-empty value",
    "conditions.all[5].any[1].value: 'not_equals' needs one value, not an array (use 'in')",
    "conditions.all[6].value: 'greater_than' needs a number or an ISO date (2024-05-31)",
    "conditions.all[8].from: 'changed_from_to' needs from",
    'conditions.all[9]: from and to are equal, so it never matches',
    "conditions.all[10]: only 'changed_from_to' takes from and to",
    "conditions.all[11].field: 'a.' is not a field path like 'lead.status'",
  ])
  t.same(validateCondition({ all: [] }), [])
  t.same(validateCondition({ any: [{ field: 'a', op: 'in', value: [1] }] }, 'rule.conditions'), [])
})

t.test('groups nest at most 5 deep', async (t) => {
  const nest = (depth: number): ConditionGroup =>
    depth === 1 ? { all: [{ field: 'a', op: 'is_empty' }] } : { any: [nest(depth - 1)] }
  t.same(validateCondition(nest(5)), [])
  t.same(validateCondition(nest(6)), [
    'conditions.any[0].any[0].any[0].any[0].any[0]: groups nest at most 5 deep',
  ])
})

t.test('at most 100 tests in all', async (t) => {
  const tests = (n: number) =>
    Array.from({ length: n }, () => ({ field: 'a', op: 'is_empty' as const }))
  t.same(validateCondition({ all: [...tests(50), { any: tests(50) }] }), [])
  t.same(validateCondition({ all: [...tests(50), { any: tests(51) }] }), [
    'conditions: at most 100 tests, found 101',
  ])
})

t.test('conditionFields lists every field once, in order', async (t) => {
  t.same(
    conditionFields({
      all: [
        { field: 'lead.status', op: 'is_empty' },
        {
          any: [
            { field: 'lead.email', op: 'is_empty' },
            { all: [{ field: 'lead.status', op: 'changed' }] },
          ],
        },
        { field: 'lead.tags.0', op: 'is_empty' },
      ],
    }),
    ['lead.status', 'lead.email', 'lead.tags.0'],
  )
  t.same(conditionFields({ any: [] }), [])
})
