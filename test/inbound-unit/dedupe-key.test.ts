import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import t from 'tap'
import { canonicalJson } from '../../src/formats/canonical-json.js'
import { dedupeKey } from '../../src/inbound/dedupe-key.js'

t.test('key order does not matter, values do', async (t) => {
  const a = dedupeKey({ email: 'a@b.example', lead: { name: 'Ana', score: 1 } })
  const b = dedupeKey({ lead: { score: 1, name: 'Ana' }, email: 'a@b.example' })
  t.match(a, /^[0-9a-f]{64}$/)
  t.equal(a, b)
  t.not(a, dedupeKey({ email: 'a@b.example', lead: { name: 'Ana', score: 2 } }))
  t.not(dedupeKey({ a: '1' }), dedupeKey({ a: 1 }), 'a string is not a number')
  t.not(dedupeKey({ a: [1, 2] }), dedupeKey({ a: [2, 1] }), 'array order matters')
})

t.test('only the chosen parameters count, in any order', async (t) => {
  const first = { email: 'a@b.example', received_at: '10:00', lead: { id: 7 } }
  const second = { email: 'a@b.example', received_at: '10:01', lead: { id: 7 } }
  t.not(dedupeKey(first), dedupeKey(second))
  t.equal(dedupeKey(first, ['email', 'lead.id']), dedupeKey(second, ['lead.id', 'email', 'email']))
  t.not(dedupeKey(first, ['email']), dedupeKey({ email: 'c@d.example' }, ['email']))
  t.equal(dedupeKey(first, []), dedupeKey(first), 'an empty choice means all')
  t.equal(
    dedupeKey({}, ['email']),
    dedupeKey({ email: null }, ['email']),
    'absent and null are the same',
  )
  t.not(
    dedupeKey({ email: 'x' }, ['email']),
    dedupeKey({ other: 'x' }, ['other']),
    'the path is part of the key',
  )
})

t.test('canonicalJson is JSON with sorted keys', async (t) => {
  t.equal(
    canonicalJson({ b: 1, a: [{ d: null, c: 'x' }], u: undefined }),
    '{"a":[{"c":"x","d":null}],"b":1}',
  )
})

t.test(
  'any reordering of the same object gives the same key, and the JSON reads back',
  async () => {
    const shuffle = (value: unknown, seed: number): unknown => {
      if (Array.isArray(value)) return value.map((item) => shuffle(item, seed))
      if (typeof value !== 'object' || value === null) return value
      const entries = Object.entries(value)
      entries.sort(
        (x, y) => ((x[0].length * seed) % 7) - ((y[0].length * seed) % 7) || (seed % 2 ? 1 : -1),
      )
      return Object.fromEntries(entries.map(([k, v]) => [k, shuffle(v, seed)]))
    }
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.nat(), (value, seed) => {
        const parsed = JSON.parse(JSON.stringify(value))
        return dedupeKey(parsed) === dedupeKey(shuffle(parsed, seed) as Record<string, unknown>)
      }),
      { numRuns: 500 },
    )
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const parsed = JSON.parse(JSON.stringify(value))
        return isDeepStrictEqual(JSON.parse(canonicalJson(parsed)), parsed)
      }),
    )
  },
)
