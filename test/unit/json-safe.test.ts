import fc from 'fast-check'
import t from 'tap'
import { jsonb, safeJson } from '../../src/inbound/json-safe.js'

/**
 * `jsonb` skips the safe copy when the plain JSON text shows nothing
 * Postgres would refuse. For any value, with NULs, lone and paired
 * surrogates and backslashes in its strings and keys, it must give what
 * the safe copy gives.
 */

const awkward = fc.oneof(
  fc.string({ unit: 'grapheme' }),
  fc.string({
    unit: fc.constantFrom('a', '\u0000', '\\', 'u', '0', '\ud800', '\udc00', '😀', 'é'),
  }),
)
const value = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    awkward,
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(awkward, tie('node'), { maxKeys: 4 }),
  ),
})).node

t.test('jsonb gives what the safe copy gives, for any value', async (t) => {
  fc.assert(
    fc.property(value, (v) => jsonb(v) === (v === null ? null : JSON.stringify(safeJson(v)))),
    { numRuns: 2000 },
  )
  t.equal(jsonb(undefined), null)
  t.equal(jsonb({ a: 'x\u0000y', 'k\ud800': 1 }), '{"a":"xy","k\ufffd":1}')
})
