import t from 'tap'
import { FairnessLimiter } from '../../src/outbound/send/fairness.js'

// acquireSoon: wait in memory for a slot that is due soon, defer otherwise.

t.test('a free slot is taken at once', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 2, perWorkspace: 10 })
  t.equal(await limiter.acquireSoon('r', 'w', 250), true)
})

t.test('a send to a rule whose slots come back quickly waits for the next one', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 2, perWorkspace: 10 })
  const now = Date.now()
  t.ok(limiter.tryAcquire('r', 'w'))
  t.ok(limiter.tryAcquire('r', 'w'))
  const waiting = limiter.acquireSoon('r', 'w', 250, now)
  limiter.release('r', 'w', now + 5)
  t.equal(await waiting, true, 'handed the released slot')
  t.notOk(limiter.tryAcquire('r', 'w'), 'the waiter holds it: the cap still counts two')
})

t.test('waiters are served oldest first and give up after maxWaitMs', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 1, perWorkspace: 10 })
  const now = Date.now()
  t.ok(limiter.tryAcquire('r', 'w'))
  const first = limiter.acquireSoon('r', 'w', 50, now)
  const second = limiter.acquireSoon('r', 'w', 50, now)
  limiter.release('r', 'w', now + 1)
  t.equal(await first, true)
  t.equal(await second, false, 'no second slot came back within 50 ms')
})

t.test('a hanging receiver is not waited for', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 2, perWorkspace: 10 })
  const start = Date.now()
  limiter.acquire('r', 'w', start)
  limiter.acquire('r', 'w', start)
  t.equal(
    await limiter.acquireSoon('r', 'w', 250, start + 1_000),
    false,
    'its slots have not moved for a second: deferred at once',
  )
})

t.test('no more wait than can be served within maxWaitMs', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 1, perWorkspace: 10 })
  const now = Date.now()
  limiter.acquire('r', 'w', now)
  const handedOn = limiter.acquireSoon('r', 'w', 250, now)
  // The send took 100 ms: from now on, one slot back every 100 ms is expected.
  limiter.release('r', 'w', now + 100)
  t.equal(await handedOn, true)
  const waits = [1, 2, 3].map(() => limiter.acquireSoon('r', 'w', 250, now + 100))
  t.equal(await waits[2], false, 'a third waiter would wait about 300 ms: deferred at once')
  limiter.release('r', 'w', now + 200)
  t.equal(await waits[0], true)
  limiter.release('r', 'w', now + 300)
  t.equal(await waits[1], true)
})

t.test('a full workspace whose slots come back quickly is waited for too', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 5, perWorkspace: 2 })
  const now = Date.now()
  t.ok(limiter.tryAcquire('a', 'w'))
  t.ok(limiter.tryAcquire('b', 'w'))
  const waiting = limiter.acquireSoon('c', 'w', 250, now)
  limiter.release('a', 'w', now + 5)
  t.equal(await waiting, true, 'rule c got the slot rule a gave back')
  t.notOk(limiter.tryAcquire('d', 'w'), 'the workspace still counts two')
  limiter.release('b', 'w')
  limiter.release('c', 'w')
  t.ok(limiter.tryAcquire('d', 'w'), 'each release was counted once')
})

t.test('a workspace full of hanging sends is not waited for', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 5, perWorkspace: 2 })
  const start = Date.now()
  limiter.acquire('a', 'w', start)
  limiter.acquire('b', 'w', start)
  t.equal(await limiter.acquireSoon('c', 'w', 250, start + 1_000), false)
})

t.test('a workspace slot goes to a waiter whose own rule has room', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 1, perWorkspace: 2 })
  const now = Date.now()
  t.ok(limiter.tryAcquire('a', 'w'))
  t.ok(limiter.tryAcquire('b', 'w'))
  // Rule a is full: this one waits on a's cap, not the workspace's.
  const onRule = limiter.acquireSoon('a', 'w', 50, now)
  const onWorkspace = limiter.acquireSoon('c', 'w', 250, now)
  limiter.release('b', 'w', now + 5)
  t.equal(await onWorkspace, true, 'c took the slot b gave back')
  t.equal(await onRule, false, 'rule a never had room within 50 ms')
})
