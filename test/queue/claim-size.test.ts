import fc from 'fast-check'
import t from 'tap'
import { claimSize } from '../../src/queue/claim-size.js'

const state = fc.record({
  sweep: fc.boolean(),
  draining: fc.boolean(),
  demand: fc.nat({ max: 10_000 }),
  held: fc.nat({ max: 2_000 }),
  batchSize: fc.integer({ min: 1, max: 1_000 }),
})

t.test('a claim never overfills the buffer', async (t) => {
  fc.assert(
    fc.property(state, (s) => {
      const size = claimSize(s)
      return size >= 0 && size <= Math.max(0, s.batchSize - s.held)
    }),
  )
  t.pass()
})

t.test('an idle worker that is told to look always claims something', async (t) => {
  fc.assert(fc.property(state, (s) => claimSize({ ...s, sweep: true, held: 0 }) >= 1))
  t.pass()
})

t.test('a notification claims as many jobs as it announced, room permitting', async (t) => {
  fc.assert(
    fc.property(state, (s) => {
      const quiet = { ...s, sweep: false, draining: false }
      return claimSize(quiet) === Math.max(0, Math.min(s.demand, s.batchSize - s.held))
    }),
  )
  t.equal(claimSize({ sweep: false, draining: false, demand: 1, held: 0, batchSize: 500 }), 1)
})

t.test('while draining, claims take half the buffer once half is free', async (t) => {
  const draining = { sweep: false, draining: true, demand: 0, batchSize: 500 }
  t.equal(claimSize({ ...draining, held: 0 }), 250)
  t.equal(claimSize({ ...draining, held: 250 }), 250)
  t.equal(claimSize({ ...draining, held: 251 }), 0, 'not yet: the buffer is more than half full')
})
