import fc from 'fast-check'
import t from 'tap'
import { retryDelayMs } from '../../src/queue/backoff.js'
import { PermanentJobError, RetryJobError } from '../../src/queue/errors.js'
import { errorText, failureFor } from '../../src/queue/failure.js'

const backoff = { baseMs: 1_000, maxMs: 60_000 }

t.test('retry delays grow exponentially, jittered within [step/2, step], capped', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 10_000 }),
      fc.integer({ min: 1, max: 100_000 }),
      fc.integer({ min: 1, max: 10_000_000 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (attempt, baseMs, extra, r) => {
        const options = { baseMs, maxMs: baseMs + extra }
        const step = Math.min(options.maxMs, baseMs * 2 ** (attempt - 1))
        const delay = retryDelayMs(attempt, options, () => r)
        return (
          Number.isFinite(delay) &&
          delay >= Math.floor(step / 2) &&
          delay <= Math.ceil(step) &&
          delay <= options.maxMs
        )
      },
    ),
  )
  t.equal(
    retryDelayMs(1, backoff, () => 0),
    500,
  )
  t.equal(
    retryDelayMs(3, backoff, () => 1),
    4_000,
  )
  t.equal(
    retryDelayMs(50, backoff, () => 1),
    60_000,
    'capped',
  )
})

t.test('the schedule never shrinks from one attempt to the next', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (attempt, r) =>
        retryDelayMs(attempt, backoff, () => r) <= retryDelayMs(attempt + 1, backoff, () => r),
    ),
  )
  t.pass()
})

t.test(
  'failureFor: backoff, Retry-After, permanent errors, last attempts and cut runs',
  async (t) => {
    const job = { id: '1', attempt: 1, maxAttempts: 3 }
    const plain = failureFor(job, new Error('boom'), { backoff })
    t.match(plain, { id: '1', error: 'Error: boom', dead: false })
    t.ok(plain.delayMs >= 500 && plain.delayMs <= 1_000, 'first retry on the schedule')

    t.match(failureFor(job, new RetryJobError('429', { delayMs: 42_000 }), { backoff }), {
      delayMs: 42_000,
      dead: false,
      error: 'RetryJobError: 429',
    })
    t.match(failureFor(job, new PermanentJobError('410 gone'), { backoff }), { dead: true })
    t.match(failureFor({ ...job, attempt: 3 }, new RetryJobError('again'), { backoff }), {
      dead: true,
    })
    t.match(failureFor({ ...job, attempt: 3 }, new Error('aborted'), { backoff, cut: true }), {
      dead: false,
      delayMs: 0,
    })
  },
)

t.test('errorText keeps the cause and stays short', async (t) => {
  t.equal(
    errorText(new Error('send failed', { cause: new TypeError('fetch failed') })),
    'Error: send failed (cause: TypeError: fetch failed)',
  )
  t.equal(errorText('plain'), 'non-error thrown: plain')
  t.equal(errorText(new Error('x'.repeat(10_000))).length, 2_000)
})
