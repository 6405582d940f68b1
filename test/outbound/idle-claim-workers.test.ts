// Idle workers claim the jobs a notification announced by id
// (src/outbound/send/idle-claim.ts): every idle worker hears each lone
// event's notification, and exactly one of them sends it.
import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { createRule, lead, postEvent, ruleBody, settled } from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

t.test('two idle workers told of the same lone events: each is sent once', async (t) => {
  const testApp = await build(t, { workerConcurrency: 4 })
  const { app } = testApp
  await startWorkers(t, testApp)
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${receiver.url}/hook`))
  const sent: string[] = []
  for (let i = 0; i < 12; i++) {
    // One at a time: each event finds both workers idle.
    const { deliveries } = await postEvent(app, ws, 'lead.created', lead({}, `L-${i}`))
    sent.push(deliveries[0]!)
    await receiver.waitFor(sent.length)
  }
  for (const id of sent) {
    const delivery = await settled(app, ws, id)
    t.equal(delivery.status, 'succeeded', `${id} succeeded`)
    t.equal(delivery.attempts, 1, `${id} in one attempt`)
  }
  const ids = receiver.received.map((request) => request.headers['webhook-id'])
  t.strictSame([...ids].sort(), [...sent].sort(), 'each delivery reached the receiver once')
})
