import t from 'tap'
import { destinationHost, FairnessLimiter, type Slot } from '../../src/outbound/send/fairness.js'

/** A send of `rule` in `workspace`, to a host of the rule's own unless told. */
const send = (rule: string, workspace: string, host = `${rule}.example:443`): Slot => ({
  rule,
  workspace,
  host,
})

t.test('a rule cannot take more than its share of slots', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 2, perHost: 2, perWorkspace: 3 })
  t.ok(limiter.tryAcquire(send('rule-a', 'ws-1')))
  t.ok(limiter.tryAcquire(send('rule-a', 'ws-1')))
  t.notOk(limiter.tryAcquire(send('rule-a', 'ws-1')), 'rule cap reached')
  t.ok(limiter.tryAcquire(send('rule-b', 'ws-1')), 'another rule of the workspace still runs')
  t.notOk(limiter.tryAcquire(send('rule-c', 'ws-1')), 'workspace cap reached')
  t.ok(limiter.tryAcquire(send('rule-d', 'ws-2')), 'another workspace is untouched')
  limiter.release(send('rule-a', 'ws-1'))
  t.ok(limiter.tryAcquire(send('rule-c', 'ws-1')), 'a released slot is free again')
})

t.test('inline acquisitions count and release cleanly', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 1, perHost: 1, perWorkspace: 5 })
  t.ok(limiter.tryAcquire(send('r', 'w')))
  limiter.acquire(send('r', 'w'))
  limiter.release(send('r', 'w'))
  t.notOk(limiter.tryAcquire(send('r', 'w')), 'one slot is still held')
  limiter.release(send('r', 'w'))
  t.ok(limiter.tryAcquire(send('r', 'w')))
})

t.test(
  'one host cannot take more than its share, whatever rules and workspaces send there',
  async (t) => {
    const limiter = new FairnessLimiter({ perRule: 2, perHost: 3, perWorkspace: 5 })
    const hanging = '127.0.0.1:8001'
    t.ok(limiter.tryAcquire(send('a', 'ws-1', hanging)))
    t.ok(limiter.tryAcquire(send('a', 'ws-1', hanging)))
    t.ok(limiter.tryAcquire(send('b', 'ws-2', hanging)), 'another workspace’s rule, same host')
    t.notOk(limiter.tryAcquire(send('b', 'ws-2', hanging)), 'host cap reached, though b holds one')
    t.notOk(limiter.tryAcquire(send('c', 'ws-3', hanging)), 'nor may a third workspace send there')
    t.ok(limiter.tryAcquire(send('c', 'ws-3', '127.0.0.1:8002')), 'another port is another host')
    t.ok(limiter.tryAcquire(send('d', 'ws-1')), 'the workspaces still send elsewhere')
    limiter.release(send('a', 'ws-1', hanging))
    t.ok(limiter.tryAcquire(send('c', 'ws-3', hanging)), 'a released host slot is free again')
    limiter.acquire(send('e', 'ws-4', hanging))
    limiter.release(send('b', 'ws-2', hanging))
    t.notOk(
      limiter.tryAcquire(send('b', 'ws-2', hanging)),
      'an inline send counts against the host',
    )
  },
)

t.test('a destination host is its lowercased hostname and port', async (t) => {
  t.equal(destinationHost('https://CRM.Example.com/hook?x=1'), 'crm.example.com:443')
  t.equal(
    destinationHost('https://crm.example.com:443/a'),
    'crm.example.com:443',
    'the default port, written or not',
  )
  t.equal(destinationHost('http://crm.example.com/a'), 'crm.example.com:80')
  t.equal(destinationHost('http://user:pw@127.0.0.1:8080/a'), '127.0.0.1:8080')
  t.not(
    destinationHost('http://127.0.0.1:8081/a'),
    destinationHost('http://127.0.0.1:8080/a'),
    'two ports of one address are two hosts',
  )
  t.equal(destinationHost('http://[::1]:3000/'), '[::1]:3000')
})

t.test('the token bucket spaces requests at the rule rate', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 10, perHost: 10, perWorkspace: 10 })
  const now = 1_000_000
  const waits = Array.from({ length: 4 }, () => limiter.rateWaitMs('r', 4, now))
  t.same(waits.slice(0, 3), [0, 0, 250], 'a full bucket lets half a second’s worth through')
  t.ok((waits[3] ?? 0) > 0 && (waits[3] ?? 0) <= 250, 'then waits about 1/rate')
  t.equal(limiter.rateWaitMs('r', 4, now + 250), 0, 'a token comes back after 1/rate')
  t.equal(limiter.rateWaitMs('r', null, now), 0, 'no limit, no wait')
})
