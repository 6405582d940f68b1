import pg from 'pg'
import t from 'tap'
import { parseTimestamptz } from '../../src/db/timestamptz.js'

// pg's own parser (this file does not load src/db/database.ts, which replaces it).
const pgParse = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text')
const same = (text: string) => {
  const ours = parseTimestamptz(text, pgParse)
  const theirs = pgParse(text)
  return ours instanceof Date && theirs instanceof Date
    ? ours.getTime() === theirs.getTime() ||
        (Number.isNaN(ours.getTime()) && Number.isNaN(theirs.getTime()))
    : ours === theirs
}

t.test('reads every timestamptz as pg does', async (t) => {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0')
  const offsets = ['+00', '-05', '+05:30', '-03:30', '+14', '-12', '+09:45']
  let checked = 0
  // A fixed sequence (no Math.random): the same cases on every run.
  let seed = 42
  const next = (below: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed % below
  }
  for (let i = 0; i < 5_000; i++) {
    const fraction =
      next(7) === 0
        ? ''
        : `.${String(next(1_000_000))
            .padStart(6, '0')
            .slice(0, 1 + next(6))}`
    const text =
      `${pad(1000 + next(9000), 4)}-${pad(1 + next(12))}-${pad(1 + next(28))} ` +
      `${pad(next(24))}:${pad(next(60))}:${pad(next(60))}${fraction}${offsets[next(offsets.length)]}`
    if (!same(text)) t.fail(`${text}: ${parseTimestamptz(text, pgParse)} against ${pgParse(text)}`)
    checked++
  }
  t.equal(checked, 5_000)
  const value = parseTimestamptz('2026-12-05 08:10:11.123456+05:30', pgParse) as Date
  t.equal(
    value.toISOString(),
    '2026-12-05T02:40:11.123Z',
    'the offset is taken away, microseconds dropped',
  )
})

t.test('leaves what it does not read to pg', async (t) => {
  for (const text of [
    'infinity',
    '-infinity',
    '0099-01-01 00:00:00+00',
    '0999-12-31 23:59:59.5+00',
    '2026-12-05 08:10:11+00 BC',
    '1900-01-01 00:00:00+00:09:21',
    '2026-12-05T08:10:11Z',
    '2026-12-05 08:10:11',
    '12026-12-05 08:10:11+00',
  ]) {
    t.ok(same(text), text)
  }
})
