import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import {
  createRule,
  lead,
  type Notice,
  postEvent,
  ruleBody,
  setCallback,
  settled,
} from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'

// Render threads boot through tsx here, and a stopped one is replaced: seconds each on a busy machine.
t.setTimeout(300_000)

// A budget other than the default, so the messages show it is the configured one.
const testApp = await build(t, { templateRenderBudgetMs: 80 })

// A thousand items looped over three deep: a billion iterations, stopped by Liquid's own check.
const items = Array.from({ length: 1000 }, (_, i) => i)
const LOOPS =
  '{% for a in lead.items %}{% for b in lead.items %}{% for c in lead.items %}{{ c }}{% endfor %}{% endfor %}{% endfor %}'
// One filter over 300,000 items: no check inside it, so its thread is stopped.
const bigItems = Array.from({ length: 300_000 }, () => 1)
const ONE_FILTER = '{"n": {{ lead.items | where: "x", 1 | size }}}'

async function post(ws: { auth: Record<string, string> }, url: string, payload: unknown) {
  return testApp.app.inject({ method: 'POST', url, headers: ws.auth, payload: payload as object })
}

t.test('save refuses templates already too big to render, naming the field', async (t) => {
  const { app } = testApp
  const ws = await createWorkspace(app)
  const range = await post(ws, '/v1/rules', {
    ...ruleBody('https://example.com/x'),
    request: {
      method: 'POST',
      url: 'https://example.com/x',
      body_format: 'text',
      body_template: '{{ (1..16000000) | join: "x" }}',
    },
  })
  t.equal(range.statusCode, 400, range.body)
  t.match(
    range.json().message,
    /body\/request\/body_template: the range \(1\.\.16000000\) has 16000000 items; a template may use at most 10000/,
  )

  const rule = await createRule(app, ws, ruleBody('https://example.com/x'))
  const nested = await app.inject({
    method: 'PATCH',
    url: `/v1/rules/${rule.id}`,
    headers: ws.auth,
    payload: {
      request: {
        method: 'POST',
        url: 'https://example.com/x',
        body_format: 'json',
        headers: [
          {
            name: 'X-Deep',
            value:
              '{% for a in l %}{% for b in a %}{% for c in b %}{% for d in c %}{{ d }}{% endfor %}{% endfor %}{% endfor %}{% endfor %}',
          },
        ],
      },
    },
  })
  t.equal(nested.statusCode, 400, nested.body)
  t.match(nested.json(), {
    code: 'validation_failed',
    message:
      /body\/request\/headers\/0\/value: loops are nested 4 deep; a template may nest at most 3/,
  })
  const fits = await post(ws, '/v1/rules', {
    ...ruleBody('https://example.com/x'),
    request: {
      method: 'POST',
      url: 'https://example.com/x',
      body_format: 'text',
      body_template:
        '{% for i in (1..10000) %}{% for t in lead.tags %}{{ t }}{% endfor %}{% endfor %}',
    },
  })
  t.equal(fits.statusCode, 201, 'a range at the limit and loops two deep are fine')
})

t.test('preview and test run on the budget sends use', async (t) => {
  const { app } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  const loops = await createRule(app, ws, {
    ...ruleBody(`${receiver.url}/x`),
    request: {
      method: 'POST',
      url: `${receiver.url}/x`,
      body_format: 'text',
      body_template: LOOPS,
    },
  })
  for (const action of ['preview', 'test']) {
    const res = await post(ws, `/v1/rules/${loops.id}/${action}`, { record: lead({ items }) })
    t.equal(res.statusCode, 400, `${action}: ${res.body}`)
    t.match(res.json().message, /the body template exceeded its render budget of 80 ms/)
  }
  const filter = await createRule(app, ws, {
    ...ruleBody(`${receiver.url}/x`),
    request: {
      method: 'POST',
      url: `${receiver.url}/x`,
      body_format: 'json',
      body_template: ONE_FILTER,
    },
  })
  const stuck = await post(ws, `/v1/rules/${filter.id}/preview`, {
    record: lead({ items: bigItems }),
  })
  t.equal(stuck.statusCode, 400, stuck.body)
  t.match(stuck.json().message, /the body template exceeded its render budget of 80 ms/)

  // The render thread that was stopped is replaced: the next loop renders.
  const fine = await post(ws, `/v1/rules/${filter.id}/preview`, { record: lead({ items: [1, 2] }) })
  t.equal(fine.statusCode, 200, fine.body)
  t.same(JSON.parse(fine.json().request.body), { n: 0 })
  t.equal(receiver.received.length, 0, 'nothing was sent')
})

t.test('a template with loops that fits its budget is delivered', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, {
    ...ruleBody(`${receiver.url}/x`),
    request: {
      method: 'POST',
      url: `${receiver.url}/x`,
      body_format: 'json',
      body_template:
        '[{% for t in lead.tags %}{{ t | upcase }}{% unless forloop.last %},{% endunless %}{% endfor %}]',
      headers: [{ name: 'X-Count', value: '{{ lead.tags | size }}' }],
    },
    auth: { type: 'bearer', token: 'tok-1' },
  })
  const event = await postEvent(app, ws, 'lead.created', lead({ tags: ['a', 'b'] }))
  const delivery = await settled(app, ws, event.deliveries[0] as string)
  t.equal(delivery.status, 'succeeded', delivery.last_error ?? '')
  t.same(JSON.parse(receiver.received[0]?.body ?? ''), ['A', 'B'])
  t.equal(receiver.received[0]?.headers.authorization, 'Bearer tok-1', 'credentials still go')
  t.equal(receiver.received[0]?.headers['x-count'], '2')
})

t.test(
  'a rule over its budget fails each delivery with the reason and, three in a row, disables itself',
  async (t) => {
    const { app } = testApp
    await startWorkers(t, testApp)
    const receiver = await startReceiver(t)
    const crm = await startReceiver(t)
    const ws = await createWorkspace(app)
    await setCallback(app, ws, `${crm.url}/notices`)
    const rule = await createRule(app, ws, {
      ...ruleBody(`${receiver.url}/x`),
      title: 'Runaway',
      request: {
        method: 'POST',
        url: `${receiver.url}/x`,
        body_format: 'text',
        body_template: LOOPS,
      },
    })
    for (let i = 0; i < 3; i++) {
      const event = await postEvent(app, ws, 'lead.created', lead({ items }, `L-${i}`))
      const delivery = await settled(app, ws, event.deliveries[0] as string)
      t.match(delivery, {
        status: 'failed',
        last_error: 'render failed: the body template exceeded its render budget of 80 ms',
      })
      const now = (await app.inject({ url: `/v1/rules/${rule.id}`, headers: ws.auth })).json()
      t.equal(now.enabled, i !== 2, i === 2 ? 'the third in a row disables it' : 'not yet')
    }
    const after = (await app.inject({ url: `/v1/rules/${rule.id}`, headers: ws.auth })).json()
    t.equal(after.disabled_code, 'over_render_budget')
    t.equal(
      after.disabled_reason,
      'the body template exceeded its render budget of 80 ms on 3 deliveries in a row',
    )
    const notice = await eventually(() =>
      crm.received
        .map((got) => JSON.parse(got.body) as Notice)
        .find((n) => n.type === 'rule.disabled'),
    )
    t.match(notice.data, { rule_id: rule.id, rule_title: 'Runaway', reason: after.disabled_reason })
    t.equal(receiver.received.length, 0, 'nothing was sent')
  },
)

t.test('a success between over-budget deliveries starts the count again', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  const rule = await createRule(app, ws, {
    ...ruleBody(`${receiver.url}/x`),
    request: {
      method: 'POST',
      url: `${receiver.url}/x`,
      body_format: 'text',
      body_template: LOOPS,
    },
  })
  for (const list of [items, items, [1], items, items]) {
    const event = await postEvent(app, ws, 'lead.created', lead({ items: list }))
    await settled(app, ws, event.deliveries[0] as string)
  }
  const now = (await app.inject({ url: `/v1/rules/${rule.id}`, headers: ws.auth })).json()
  t.equal(now.enabled, true, 'two, one success, two: never three in a row')
  t.equal(receiver.received.length, 1)
})
