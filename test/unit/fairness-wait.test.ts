import t from 'tap'
import { FairnessLimiter, type Slot } from '../../src/outbound/send/fairness.js'

/** A send of `rule` in `workspace`, to a host of the rule's own unless told. */
const send = (rule: string, workspace: string, host = `${rule}.example:443`): Slot => ({
  rule,
  workspace,
  host,
})

// acquireSoon: wait in memory for a slot that is due soon, defer otherwise.

t.test('a free slot is taken at once', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 2, perHost: 2, perWorkspace: 10 })
  t.equal(await limiter.acquireSoon(send('r', 'w'), 250), true)
})

t.test('a send to a rule whose slots come back quickly waits for the next one', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 2, perHost: 2, perWorkspace: 10 })
  const now = Date.now()
  t.ok(limiter.tryAcquire(send('r', 'w')))
  t.ok(limiter.tryAcquire(send('r', 'w')))
  const waiting = limiter.acquireSoon(send('r', 'w'), 250, now)
  limiter.release(send('r', 'w'), now + 5)
  t.equal(await waiting, true, 'handed the released slot')
  t.notOk(limiter.tryAcquire(send('r', 'w')), 'the waiter holds it: the cap still counts two')
})

t.test('waiters are served oldest first and give up after maxWaitMs', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 1, perHost: 1, perWorkspace: 10 })
  const now = Date.now()
  t.ok(limiter.tryAcquire(send('r', 'w')))
  const first = limiter.acquireSoon(send('r', 'w'), 50, now)
  const second = limiter.acquireSoon(send('r', 'w'), 50, now)
  limiter.release(send('r', 'w'), now + 1)
  t.equal(await first, true)
  t.equal(await second, false, 'no second slot came back within 50 ms')
})

t.test('a hanging receiver is not waited for', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 2, perHost: 2, perWorkspace: 10 })
  const start = Date.now()
  limiter.acquire(send('r', 'w'), start)
  limiter.acquire(send('r', 'w'), start)
  t.equal(
    await limiter.acquireSoon(send('r', 'w'), 250, start + 1_000),
    false,
    'its slots have not moved for a second: deferred at once',
  )
})

t.test('no more wait than can be served within maxWaitMs', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 1, perHost: 1, perWorkspace: 10 })
  const now = Date.now()
  limiter.acquire(send('r', 'w'), now)
  const handedOn = limiter.acquireSoon(send('r', 'w'), 250, now)
  // The send took 100 ms: from now on, one slot back every 100 ms is expected.
  limiter.release(send('r', 'w'), now + 100)
  t.equal(await handedOn, true)
  const waits = [1, 2, 3].map(() => limiter.acquireSoon(send('r', 'w'), 250, now + 100))
  t.equal(await waits[2], false, 'a third waiter would wait about 300 ms: deferred at once')
  limiter.release(send('r', 'w'), now + 200)
  t.equal(await waits[0], true)
  limiter.release(send('r', 'w'), now + 300)
  t.equal(await waits[1], true)
})

t.test('a full workspace whose slots come back quickly is waited for too', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 5, perHost: 5, perWorkspace: 2 })
  const now = Date.now()
  t.ok(limiter.tryAcquire(send('a', 'w')))
  t.ok(limiter.tryAcquire(send('b', 'w')))
  const waiting = limiter.acquireSoon(send('c', 'w'), 250, now)
  limiter.release(send('a', 'w'), now + 5)
  t.equal(await waiting, true, 'rule c got the slot rule a gave back')
  t.notOk(limiter.tryAcquire(send('d', 'w')), 'the workspace still counts two')
  limiter.release(send('b', 'w'))
  limiter.release(send('c', 'w'))
  t.ok(limiter.tryAcquire(send('d', 'w')), 'each release was counted once')
})

t.test('a workspace full of hanging sends is not waited for', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 5, perHost: 5, perWorkspace: 2 })
  const start = Date.now()
  limiter.acquire(send('a', 'w'), start)
  limiter.acquire(send('b', 'w'), start)
  t.equal(await limiter.acquireSoon(send('c', 'w'), 250, start + 1_000), false)
})

t.test('a workspace slot goes to a waiter whose own rule has room', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 1, perHost: 1, perWorkspace: 2 })
  const now = Date.now()
  t.ok(limiter.tryAcquire(send('a', 'w')))
  t.ok(limiter.tryAcquire(send('b', 'w')))
  // Rule a is full: this one waits on a's cap, not the workspace's.
  const onRule = limiter.acquireSoon(send('a', 'w'), 50, now)
  const onWorkspace = limiter.acquireSoon(send('c', 'w'), 250, now)
  limiter.release(send('b', 'w'), now + 5)
  t.equal(await onWorkspace, true, 'c took the slot b gave back')
  t.equal(await onRule, false, 'rule a never had room within 50 ms')
})

t.test('a host slot goes to a send waiting on that host, from any workspace', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 2, perHost: 3, perWorkspace: 10 })
  const host = '127.0.0.1:8001'
  const now = Date.now()
  t.ok(limiter.tryAcquire(send('a', 'w1', host)))
  t.ok(limiter.tryAcquire(send('a', 'w1', host)))
  t.ok(limiter.tryAcquire(send('b', 'w2', host)))
  // Rule c and its workspace have room: it waits on the host's cap.
  const waiting = limiter.acquireSoon(send('c', 'w3', host), 250, now)
  limiter.release(send('b', 'w2', host), now + 5)
  t.equal(await waiting, true, 'c took the slot b gave back')
  t.notOk(limiter.tryAcquire(send('d', 'w4', host)), 'the host still counts three')
})

t.test('a host full of hanging sends is not waited for', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 2, perHost: 3, perWorkspace: 10 })
  const host = '127.0.0.1:8001'
  const start = Date.now()
  limiter.acquire(send('a', 'w1', host), start)
  limiter.acquire(send('a', 'w1', host), start)
  limiter.acquire(send('b', 'w2', host), start)
  t.equal(await limiter.acquireSoon(send('c', 'w3', host), 250, start + 1_000), false)
  t.equal(
    await limiter.acquireSoon(send('c', 'w3'), 250, start + 1_000),
    true,
    'elsewhere: at once',
  )
})
