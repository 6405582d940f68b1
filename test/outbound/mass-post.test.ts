import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { eventually, startReceiver } from '../helpers/receiver.js'

const records = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    entity_type: 'lead',
    entity_id: `L-${i}`,
    fields: { lead: { id: `L-${i}`, email: `lead${i}@example.com` } },
  }))

t.test('a mass post previews record by record, then posts all with progress', async (t) => {
  const testApp = await build(t)
  const { app } = testApp
  const receiver = await startReceiver(t, (req, res) => {
    // Every seventh record is refused, to see per-record outcomes.
    const failing = JSON.parse(req.body).email?.startsWith('lead7@')
    res.writeHead(failing ? 422 : 200).end()
  })
  const ws = await createWorkspace(app)
  const rule = await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: ws.auth,
    payload: {
      title: 'Export leads',
      request: {
        method: 'POST',
        url: `${receiver.url}/import`,
        body_format: 'json',
        body_pairs: [{ key: 'email', value: '{{lead.email}}' }],
      },
      execution: { max_attempts: 1 },
    },
  })
  const ruleId = rule.json().id

  const created = await app.inject({
    method: 'POST',
    url: `/v1/rules/${ruleId}/mass-posts`,
    headers: ws.auth,
    payload: { records: records(25) },
  })
  t.equal(created.statusCode, 201)
  const post = created.json()
  t.match(post, { status: 'draft', total: 25, progress: { done: 0, remaining: 25 } })

  let index: number | null = 0
  let previews = 0
  while (index !== null && previews < 3) {
    const res = await app.inject({
      url: `/v1/mass-posts/${post.id}/preview?index=${index}`,
      headers: ws.auth,
    })
    t.equal(res.statusCode, 200)
    const preview: { preview: { request: { body: string } }; next_index: number | null } =
      res.json()
    t.same(JSON.parse(preview.preview.request.body), { email: `lead${index}@example.com` })
    index = preview.next_index
    previews++
  }
  t.equal(index, 3)
  t.equal(receiver.received.length, 0, 'previews send nothing')
  const beyond = await app.inject({
    url: `/v1/mass-posts/${post.id}/preview?index=25`,
    headers: ws.auth,
  })
  t.equal(beyond.statusCode, 400)

  await startWorkers(t, testApp)
  const started = await app.inject({
    method: 'POST',
    url: `/v1/mass-posts/${post.id}/start`,
    headers: ws.auth,
  })
  t.equal(started.statusCode, 202)
  const again = await app.inject({
    method: 'POST',
    url: `/v1/mass-posts/${post.id}/start`,
    headers: ws.auth,
  })
  t.equal(again.statusCode, 409, 'a mass post starts once')

  const finished = await eventually(async () => {
    const res = (await app.inject({ url: `/v1/mass-posts/${post.id}`, headers: ws.auth })).json()
    return res.progress.done === 25 ? res : undefined
  })
  t.match(finished, {
    status: 'posted',
    progress: { done: 25, succeeded: 24, failed: 1, remaining: 0 },
  })
  t.equal(receiver.received.length, 25)

  const page = await app.inject({
    url: `/v1/mass-posts/${post.id}/items?limit=10`,
    headers: ws.auth,
  })
  const body = page.json()
  t.equal(body.data.length, 10)
  t.match(body.data[7], { index: 7, entity_id: 'L-7', status: 'failed', response_status: 422 })
  t.match(body.data[0], { index: 0, status: 'succeeded', response_status: 200 })
  t.ok(body.next_cursor)
})

t.test('mass posts belong to their workspace', async (t) => {
  const { app } = await build(t)
  const a = await createWorkspace(app, 'A')
  const b = await createWorkspace(app, 'B')
  const rule = await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: a.auth,
    payload: {
      title: 'r',
      request: { method: 'POST', url: 'https://example.com/x', body_format: 'json' },
    },
  })
  const post = await app.inject({
    method: 'POST',
    url: `/v1/rules/${rule.json().id}/mass-posts`,
    headers: a.auth,
    payload: { records: records(2) },
  })
  const id = post.json().id
  for (const [method, url] of [
    ['GET', `/v1/mass-posts/${id}`],
    ['GET', `/v1/mass-posts/${id}/items`],
    ['GET', `/v1/mass-posts/${id}/preview`],
    ['POST', `/v1/mass-posts/${id}/start`],
    ['POST', `/v1/mass-posts/${id}/cancel`],
  ] as const) {
    const res = await app.inject({ method, url, headers: b.auth })
    t.equal(res.statusCode, 404, `${method} ${url}`)
  }
  const mine = await app.inject({ url: `/v1/mass-posts/${id}`, headers: a.auth })
  t.equal(mine.json().status, 'draft', 'untouched by the other workspace')
  const crossRule = await app.inject({
    method: 'POST',
    url: `/v1/rules/${rule.json().id}/mass-posts`,
    headers: b.auth,
    payload: { records: records(1) },
  })
  t.equal(crossRule.statusCode, 404)
})
