import t from 'tap'
import { newId } from '../../src/ids.js'

t.test('ids: prefixed, 26 Crockford characters, unique, ordered by time', async (t) => {
  const ids = Array.from({ length: 50_000 }, () => newId('dlv', 1_732_000_000_000))
  t.ok(
    ids.every((id) => /^dlv_[0-9a-hjkmnp-tv-z]{26}$/.test(id)),
    'prefix and alphabet',
  )
  t.equal(new Set(ids).size, ids.length, '50,000 made in one millisecond are all different')
  t.ok(
    ids.every((id) => id.slice(4, 14) === ids[0]!.slice(4, 14)),
    'one millisecond, one time part',
  )
  const randomParts = new Set(ids.map((id) => id.slice(14, 16)))
  t.ok(
    randomParts.size > 900,
    `the random part is spread (${randomParts.size} of 1,024 two-character starts)`,
  )
  t.ok(newId('x', 1000) < newId('x', 1001), 'a later millisecond sorts after')
})
