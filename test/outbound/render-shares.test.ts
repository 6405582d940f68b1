import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { createRule, type DeliveryJson, lead, postEvent, ruleBody } from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'

// Render threads boot through tsx here: seconds on a busy machine.
t.setTimeout(300_000)

// A long budget: each of A's renders holds its render thread for seconds, so
// "before any of A's renders ended" is a wide window, not a race.
const testApp = await build(t, { templateRenderBudgetMs: 10_000, workerConcurrency: 10 })

// A thousand items looped over three deep: a billion iterations, stopped by Liquid at the budget.
const items = Array.from({ length: 1000 }, (_, i) => i)
const LOOPS =
  '{% for a in lead.items %}{% for b in lead.items %}{% for c in lead.items %}{{ c }}{% endfor %}{% endfor %}{% endfor %}'

t.test("a workspace's queued costly renders do not hold back another's deliveries", async (t) => {
  const { app } = testApp
  const receiver = await startReceiver(t)
  const a = await createWorkspace(app, 'A')
  const b = await createWorkspace(app, 'B')
  await createRule(app, a, {
    ...ruleBody(`${receiver.url}/a`, { title: 'runaway' }),
    request: {
      method: 'POST',
      url: `${receiver.url}/a`,
      body_format: 'text',
      body_template: LOOPS,
    },
  })
  await createRule(app, b, {
    ...ruleBody(`${receiver.url}/b`, { title: 'plain' }),
    request: {
      method: 'POST',
      url: `${receiver.url}/b`,
      body_format: 'json',
      body_pairs: [{ key: 'id', value: '{{ lead.id }}' }],
    },
  })
  // A's deliveries are queued first, more than the worker has slots, each in
  // a job of its own; B's one comes after them in the queue.
  const aIds: string[] = []
  for (let i = 0; i < 14; i++) {
    const answer = await postEvent(app, a, 'lead.created', lead({ items }, `A-${i}`))
    aIds.push(...answer.deliveries)
  }
  const bAnswer = await postEvent(app, b, 'lead.created', lead({}, 'B-1'))
  t.equal(aIds.length, 14)
  t.equal(bAnswer.deliveries.length, 1)

  await startWorkers(t, testApp)
  await receiver.waitFor(1, 90_000)
  t.same(
    receiver.received.map((r) => r.url),
    ['/b'],
    "B's delivery arrived; none of A's did",
  )
  const bDelivery = await eventually(async () => {
    const res = await app.inject({
      url: `/v1/deliveries/${bAnswer.deliveries[0]}`,
      headers: b.auth,
    })
    const delivery = res.json<DeliveryJson>()
    return delivery.status === 'succeeded' ? delivery : undefined
  }, 60_000)
  t.equal(bDelivery.attempts, 1)

  // B's delivery went before any of A's renders ended: every one of A's
  // deliveries is still open, and none has used an attempt.
  const res = await app.inject({ url: '/v1/deliveries?limit=100', headers: a.auth })
  const aDeliveries = res.json<{ data: DeliveryJson[] }>().data
  t.equal(aDeliveries.length, 14)
  for (const delivery of aDeliveries) {
    t.ok(['queued', 'delivering'].includes(delivery.status), `${delivery.id} is ${delivery.status}`)
    t.equal(delivery.attempts, 0, `${delivery.id} has used no attempt`)
  }
})
