import t from 'tap'
import {
  FairnessLimiter,
  HELD_MS,
  MAX_PUT_OFF_MS,
  type Slot,
} from '../../src/outbound/send/fairness.js'

/** A send of `rule` in `workspace`, to a host of the rule's own unless told. */
const send = (rule: string, workspace: string, host = `${rule}.example:443`): Slot => ({
  rule,
  workspace,
  host,
})

// putOff: a send deferred at a cap; when the cap is held for long, its backlog goes too.

t.test('a busy rule whose receiver answers quickly puts nothing else off', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 2, perHost: 2, perWorkspace: 10 })
  const now = 1_000_000
  // Sends taking 5 ms each, the rule at its cap all along.
  for (let i = 0; i < 100; i++) {
    limiter.acquire(send('r', 'w'), now + i * 5)
    if (i >= 1) limiter.release(send('r', 'w'), now + i * 5 + 5)
  }
  limiter.acquire(send('r', 'w'), now + 500)
  t.same(limiter.putOff(send('r', 'w'), 250, now + 501), { delayMs: 250, backlog: null })
})

t.test('a hanging rule puts its backlog off by how long it holds, once per delay', async (t) => {
  const limiter = new FairnessLimiter({ perRule: 2, perHost: 2, perWorkspace: 10 })
  const start = 1_000_000
  limiter.acquire(send('r', 'w'), start)
  limiter.acquire(send('r', 'w'), start)
  t.same(
    limiter.putOff(send('r', 'w'), 250, start + HELD_MS / 2),
    { delayMs: 250, backlog: null },
    'held under a second: deferred as ever',
  )
  t.same(
    limiter.putOff(send('r', 'w'), 250, start + 2000),
    { delayMs: 1000, backlog: { ruleKey: 'r' } },
    'held two seconds: the rule’s backlog goes a second ahead',
  )
  t.same(
    limiter.putOff(send('r', 'w'), 250, start + 2900),
    { delayMs: 1450, backlog: null },
    'the backlog was just moved: this send alone',
  )
  t.same(
    limiter.putOff(send('r', 'w'), 250, start + 4000),
    { delayMs: 2000, backlog: { ruleKey: 'r' } },
    'moved again once the last delay has passed, further ahead',
  )
  t.same(
    limiter.putOff(send('r', 'w'), 250, start + 600_000),
    { delayMs: MAX_PUT_OFF_MS, backlog: { ruleKey: 'r' } },
    'never more than the most',
  )
  limiter.release(send('r', 'w'), start + 600_001)
  limiter.release(send('r', 'w'), start + 600_002)
  t.same(
    limiter.putOff(send('r', 'w'), 250, start + 600_003),
    { delayMs: 250, backlog: null },
    'idle',
  )
})

t.test(
  'a workspace at its cap with slots held long puts the workspace’s backlog off',
  async (t) => {
    const limiter = new FairnessLimiter({ perRule: 5, perHost: 5, perWorkspace: 2 })
    const start = 1_000_000
    limiter.acquire(send('a', 'w'), start)
    limiter.acquire(send('b', 'w'), start)
    t.same(limiter.putOff(send('c', 'w'), 250, start + 3000), {
      delayMs: 1500,
      backlog: { workspaceId: 'w' },
    })
    t.same(
      limiter.putOff(send('d', 'other'), 250, start + 3000),
      { delayMs: 250, backlog: null },
      'another workspace is not at its cap',
    )
  },
)

t.test(
  'a host at its cap with slots held long puts off the backlog of each rule sending there',
  async (t) => {
    const limiter = new FairnessLimiter({ perRule: 2, perHost: 3, perWorkspace: 10 })
    const host = '127.0.0.1:8001'
    const start = 1_000_000
    limiter.acquire(send('a', 'w1', host), start)
    limiter.acquire(send('a', 'w1', host), start)
    limiter.acquire(send('b', 'w2', host), start)
    t.same(
      limiter.putOff(send('b', 'w2', host), 250, start + 3000),
      { delayMs: 1500, backlog: { ruleKey: 'b' } },
      'rule b has room, its host has none: b’s backlog goes, not its workspace’s',
    )
    t.same(
      limiter.putOff(send('c', 'w3', host), 250, start + 3000),
      { delayMs: 1500, backlog: { ruleKey: 'c' } },
      'so does another rule’s that sends there',
    )
    t.same(
      limiter.putOff(send('b', 'w2', host), 250, start + 3100),
      { delayMs: 1550, backlog: null },
      'b’s backlog was just moved: this send alone',
    )
    t.same(
      limiter.putOff(send('d', 'w3'), 250, start + 3000),
      { delayMs: 250, backlog: null },
      'another host is not at its cap',
    )
  },
)

t.test(
  'a rate-limited rule is spaced at most once a second, each time after the last',
  async (t) => {
    const limiter = new FairnessLimiter({ perRule: 10, perHost: 10, perWorkspace: 25 })
    const now = 1_000_000
    const first = limiter.rateSpacingFrom('r', now)
    t.same(first, new Date(now), 'the first spacing starts now')
    limiter.noteSpaced('r', first!, 10, 2, now)
    t.equal(limiter.rateSpacingFrom('r', now + 500), null, 'not again within a second')
    t.same(
      limiter.rateSpacingFrom('r', now + 1000),
      new Date(now + 5000),
      'the next one goes after the 10 jobs spaced at 2/s',
    )
    t.same(limiter.rateSpacingFrom('other', now + 500), new Date(now + 500), 'per rule')
  },
)
