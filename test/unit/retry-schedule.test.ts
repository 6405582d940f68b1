import fc from 'fast-check'
import t from 'tap'
import {
  DEFAULT_MAX_ATTEMPTS,
  honoursRetryAfter,
  MAX_ATTEMPTS,
  MIN_RETRY_DELAY_MS,
  nextRetryDelayMs,
  parseRetryAfter,
  RETRY_AFTER_CAP_MS,
  RETRY_CAP_MS,
  retryCeilingMs,
} from '../../src/outbound/retry-schedule.js'

const now = new Date('2026-03-01T12:00:00.000Z')
const HOUR = 3_600_000

t.test('the default policy: 3 attempts, so 2 retries', async (t) => {
  const delays = [1, 2, 3].map((attempt) =>
    nextRetryDelayMs({ attempt, now, random: () => 0.999999 }),
  )
  t.same(delays, [30_000, 90_000, null])
  t.equal(DEFAULT_MAX_ATTEMPTS, 3)
  t.equal(nextRetryDelayMs({ attempt: 1, now, random: () => 0 }), MIN_RETRY_DELAY_MS)
})

t.test('the ceilings grow by 3 from 30 s and stop at 24 h', async (t) => {
  t.same(
    Array.from({ length: MAX_ATTEMPTS }, (_, i) => retryCeilingMs(i + 1) / 1000),
    [30, 90, 270, 810, 2430, 7290, 21870, 65610, 86400, 86400],
  )
})

t.test('10 attempts span about a day on average, two at most', async (t) => {
  const total = (random: () => number) => {
    let sum = 0
    for (let attempt = 1; ; attempt++) {
      const delay = nextRetryDelayMs({ attempt, maxAttempts: 10, now, random })
      if (delay === null) return { sum, retries: attempt - 1 }
      sum += delay
    }
  }
  const average = total(() => 0.5)
  t.equal(average.retries, 9)
  t.ok(average.sum > 24 * HOUR && average.sum < 27 * HOUR, `${average.sum / HOUR} h`)
  t.ok(total(() => 0.999999).sum < 52 * HOUR)
  t.equal(nextRetryDelayMs({ attempt: 10, maxAttempts: 50, now }), null, 'limits above 10 mean 10')
  t.equal(nextRetryDelayMs({ attempt: 1, maxAttempts: 1, now }), null, 'one attempt: no retry')
  t.equal(nextRetryDelayMs({ attempt: 1, maxAttempts: 0, now }), null, 'below 1 means 1')
})

t.test('Retry-After, as seconds or an HTTP date, replaces the backoff', async (t) => {
  t.equal(nextRetryDelayMs({ attempt: 1, now, retryAfterHeader: '120' }), 120_000)
  t.equal(
    nextRetryDelayMs({ attempt: 1, now, retryAfterHeader: 'Sun, 01 Mar 2026 12:05:00 GMT' }),
    300_000,
  )
  t.equal(
    nextRetryDelayMs({ attempt: 1, now, retryAfterHeader: '0' }),
    MIN_RETRY_DELAY_MS,
    'not sooner than 1 s',
  )
  t.equal(
    nextRetryDelayMs({ attempt: 1, now, retryAfterHeader: '999999999' }),
    RETRY_AFTER_CAP_MS,
    'capped',
  )
  t.equal(
    nextRetryDelayMs({ attempt: 2, now, retryAfterHeader: 'soon', random: () => 0.999999 }),
    90_000,
    'bad: ignored',
  )
  t.equal(nextRetryDelayMs({ attempt: 3, now, retryAfterHeader: '5' }), null, 'no attempts left')
})

t.test('parseRetryAfter', async (t) => {
  const cases: [string, number | null][] = [
    ['0', 0],
    [' 30 ', 30_000],
    ['86400', RETRY_AFTER_CAP_MS],
    ['9'.repeat(400), RETRY_AFTER_CAP_MS],
    ['Sun, 01 Mar 2026 12:01:00 GMT', 60_000], // IMF-fixdate
    ['Sunday, 01-Mar-26 12:01:00 GMT', 60_000], // RFC 850
    ['Sun Mar  1 12:01:00 2026', 60_000], // asctime, read as GMT
    ['Sun, 01 Mar 2026 11:00:00 GMT', 0], // in the past
    ['-5', null],
    ['1.5', null],
    ['', null],
    ['2026-03-01T12:01:00Z', null],
    ['tomorrow', null],
    ['Sun, 99 Foo 2026 GMT', null],
  ]
  for (const [value, expected] of cases)
    t.equal(parseRetryAfter(value, now), expected, JSON.stringify(value))
})

t.test('honoursRetryAfter: 429 and 503', async (t) => {
  t.same([429, 503, 500, 502, 200].map(honoursRetryAfter), [true, true, false, false, false])
})

t.test('property: delays stay within [1 s, ceiling], whole milliseconds', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: MAX_ATTEMPTS }),
      fc.integer({ min: 1, max: MAX_ATTEMPTS }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (attempt, maxAttempts, r) => {
        const delay = nextRetryDelayMs({ attempt, maxAttempts, now, random: () => r })
        if (attempt >= maxAttempts) return delay === null
        return (
          delay !== null &&
          Number.isInteger(delay) &&
          delay >= MIN_RETRY_DELAY_MS &&
          delay <= retryCeilingMs(attempt) &&
          delay <= RETRY_CAP_MS
        )
      },
    ),
  )
  t.pass()
})

t.test('property: ceilings never decrease', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100 }),
      (attempt) => retryCeilingMs(attempt) <= retryCeilingMs(attempt + 1),
    ),
  )
  t.pass()
})

t.test('property: any Retry-After in seconds is honoured within [1 s, 24 h]', async (t) => {
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 1, max: 9 }), (seconds, attempt) => {
      const delay = nextRetryDelayMs({
        attempt,
        maxAttempts: 10,
        now,
        retryAfterHeader: String(seconds),
      })
      return delay === Math.min(Math.max(seconds * 1000, MIN_RETRY_DELAY_MS), RETRY_AFTER_CAP_MS)
    }),
  )
  fc.assert(
    fc.property(fc.integer({ min: -HOUR, max: 2 * 24 * HOUR }), (offset) => {
      const at = new Date(now.getTime() + offset)
      const delay = parseRetryAfter(at.toUTCString(), now)
      const expected = Math.min(
        Math.max(Math.floor(at.getTime() / 1000) * 1000 - now.getTime(), 0),
        RETRY_AFTER_CAP_MS,
      )
      return delay === expected
    }),
  )
  t.pass()
})
