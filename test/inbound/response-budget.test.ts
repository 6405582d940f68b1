// A handler's response template renders within the render budget, as a
// rule's request does: one that could cost more than its data (a tag, a
// filter over an array) renders on a render thread, and one filter over a
// huge array is stopped there, not left to hold the event loop.
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { callOf, createHandler, listen, send } from '../helpers/inbound.js'

// Render threads boot through tsx here, and a stopped one is replaced: seconds each on a busy machine.
t.setTimeout(300_000)

t.test('response templates: plain at once, costly on a thread, runaway stopped', async (t) => {
  // A short budget, and a value cap that lets a huge array through to the template.
  const { app } = await build(t, { templateRenderBudgetMs: 60, inboundMaxValues: 1_000_000 })
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = async (body_template: string) =>
    createHandler(app, ws.auth, {
      title: 'Answers',
      parameters: [],
      mapping: [],
      body_limit_bytes: 2 * 1024 * 1024,
      response: { status: 200, content_type: 'application/json', headers: [], body_template },
    })
  const post = (path: string, body: unknown) =>
    send(`${base}${path}`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })

  const plain = await handler('{"email": "{{ params.email | upcase }}"}')
  const plainAnswer = await post(plain.path, { email: 'ada@example.com' })
  t.equal(plainAnswer.status, 200, plainAnswer.text)
  t.same(plainAnswer.json(), { email: 'ADA@EXAMPLE.COM' })

  const loop = await handler('{"tags": "{% for tag in params.tags %}{{ tag }};{% endfor %}"}')
  const loopAnswer = await post(loop.path, { tags: ['a', 'b', 'c'] })
  t.equal(loopAnswer.status, 200, loopAnswer.text)
  t.same(loopAnswer.json(), { tags: 'a;b;c;' })

  // One output, one filter chain over 400,000 items: Liquid's own check, made
  // between nodes, never comes; the thread is stopped.
  const runaway = await handler('{"n": {{ params.items | map: "x" | where: "x", 1 | size }}}')
  const items = Array.from({ length: 800_000 }, () => 1)
  const stopped = await post(runaway.path, { items })
  t.equal(stopped.status, 500, stopped.text)
  t.match(stopped.json(), {
    code: 'response_failed',
    message: /the response body template exceeded its render budget of 60 ms/,
  })
  const call = await callOf(app, ws.auth, stopped)
  t.match(call, { outcome: 'error', reason: /exceeded its render budget of 60 ms/ })

  // The handler still answers what fits.
  const small = await post(runaway.path, { items: [{ x: { x: 1 } }, { x: { x: 2 } }] })
  t.equal(small.status, 200, small.text)
  t.same(small.json(), { n: 1 })
})
