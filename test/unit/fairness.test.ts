import t from 'tap'
import { FairnessLimiter } from '../../src/outbound/send/fairness.js'

t.test('a rule cannot take more than its share of slots', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 2, perWorkspace: 3 })
  t.ok(limiter.tryAcquire('rule-a', 'ws-1'))
  t.ok(limiter.tryAcquire('rule-a', 'ws-1'))
  t.notOk(limiter.tryAcquire('rule-a', 'ws-1'), 'rule cap reached')
  t.ok(limiter.tryAcquire('rule-b', 'ws-1'), 'another rule of the workspace still runs')
  t.notOk(limiter.tryAcquire('rule-c', 'ws-1'), 'workspace cap reached')
  t.ok(limiter.tryAcquire('rule-d', 'ws-2'), 'another workspace is untouched')
  limiter.release('rule-a', 'ws-1')
  t.ok(limiter.tryAcquire('rule-c', 'ws-1'), 'a released slot is free again')
})

t.test('inline acquisitions count and release cleanly', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 1, perWorkspace: 5 })
  t.ok(limiter.tryAcquire('r', 'w'))
  limiter.acquire('r', 'w')
  limiter.release('r', 'w')
  t.notOk(limiter.tryAcquire('r', 'w'), 'one slot is still held')
  limiter.release('r', 'w')
  t.ok(limiter.tryAcquire('r', 'w'))
})

t.test('the token bucket spaces requests at the rule rate', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 10, perWorkspace: 10 })
  const now = 1_000_000
  const waits = Array.from({ length: 4 }, () => limiter.rateWaitMs('r', 2, now))
  t.same(waits.slice(0, 2), [0, 0], 'a full bucket lets a second’s worth through')
  t.ok((waits[2] ?? 0) > 0 && (waits[2] ?? 0) <= 500, 'then waits about 1/rate')
  t.equal(limiter.rateWaitMs('r', 2, now + 500), 0, 'a token comes back after 1/rate')
  t.equal(limiter.rateWaitMs('r', null, now), 0, 'no limit, no wait')
})
