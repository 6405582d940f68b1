import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { createRule, postEvent, ruleBody } from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

/**
 * `changed` and `changed_from_to` through the API: the event's
 * `previous_fields` is what the conditions compare with, a creation (no
 * previous fields) has changed nothing, and only the matching rules send.
 */
t.test('change-aware conditions pick rules by what the event changed', async (t) => {
  const testApp = await build(t)
  const { app } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  const rule = (path: string, conditions: unknown) =>
    createRule(
      app,
      ws,
      ruleBody(`${receiver.url}/${path}`, {
        title: path,
        event_types: ['lead.updated'],
        conditions,
      }),
    )
  const qualified = await rule('qualified', {
    all: [{ field: 'lead.status', op: 'changed_from_to', from: 'New', to: 'Qualified' }],
  })
  const reassigned = await rule('reassigned', {
    all: [{ field: 'lead.owner', op: 'changed' }],
  })
  // Lost from any status, or a big lead handed to someone else.
  const escalate = await rule('escalate', {
    any: [
      {
        all: [
          { field: 'lead.status', op: 'changed' },
          { field: 'lead.status', op: 'equals', value: 'Lost' },
        ],
      },
      {
        all: [
          { field: 'lead.owner', op: 'changed' },
          { field: 'lead.amount', op: 'greater_than', value: 1000 },
        ],
      },
    ],
  })

  const update = (id: string, fields: object, previous?: object) =>
    postEvent(
      app,
      ws,
      'lead.updated',
      { entity_type: 'lead', entity_id: id, fields: { lead: { id, ...fields } } },
      previous ? { previous_fields: { lead: { id, ...previous } } } : {},
    )
  const cases = [
    {
      name: 'New → Qualified',
      event: await update(
        'L-1',
        { status: 'Qualified', owner: 'ann', amount: 50 },
        { status: 'New', owner: 'ann', amount: 50 },
      ),
      matched: [qualified.id],
    },
    {
      name: 'Contacted → Qualified is not from New',
      event: await update(
        'L-2',
        { status: 'Qualified', owner: 'ann', amount: 50 },
        { status: 'Contacted', owner: 'ann', amount: 50 },
      ),
      matched: [],
    },
    {
      name: 'a small lead reassigned',
      event: await update(
        'L-3',
        { status: 'New', owner: 'bob', amount: 50 },
        { status: 'New', owner: 'ann', amount: 50 },
      ),
      matched: [reassigned.id],
    },
    {
      name: 'a big lead reassigned',
      event: await update(
        'L-4',
        { status: 'New', owner: 'bob', amount: 5000 },
        { status: 'New', owner: 'ann', amount: 5000 },
      ),
      matched: [reassigned.id, escalate.id].sort(),
    },
    {
      name: 'Contacted → Lost',
      event: await update(
        'L-5',
        { status: 'Lost', owner: 'ann', amount: 50 },
        { status: 'Contacted', owner: 'ann', amount: 50 },
      ),
      matched: [escalate.id],
    },
    {
      name: 'no previous fields: a creation changed nothing',
      event: await update('L-6', { status: 'Lost', owner: 'bob', amount: 5000 }),
      matched: [],
    },
    {
      name: 'nothing changed',
      event: await update(
        'L-7',
        { status: 'Lost', owner: 'ann', amount: 5000 },
        { status: 'Lost', owner: 'ann', amount: 5000 },
      ),
      matched: [],
    },
  ]
  for (const { name, event, matched } of cases) {
    t.same([...event.matched_rules].sort(), matched, `${name}: matched rules`)
    t.equal(event.deliveries.length, matched.length, `${name}: one delivery per matched rule`)
  }

  await startWorkers(t, testApp)
  const expected = cases.reduce((n, c) => n + c.matched.length, 0)
  await receiver.waitFor(expected)
  const sent = receiver.received.map((r) => `${r.url} ${JSON.parse(r.body).lead?.id ?? ''}`)
  t.same(
    sent.sort(),
    [
      '/escalate L-4',
      '/escalate L-5',
      '/qualified L-1',
      '/reassigned L-3',
      '/reassigned L-4',
    ].sort(),
    'each matched rule sent once, for its record',
  )
})
