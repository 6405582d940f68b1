import t from 'tap'
import { build, createWorkspace, operator } from '../helpers/app.js'

t.test('each workspace has its own /v1 quota, told in RateLimit headers', async (t) => {
  const { app } = await build(t, { apiRatePerMinute: 3 })
  const acme = await createWorkspace(app, 'Acme')
  const other = await createWorkspace(app, 'Other')

  const left: string[] = []
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ url: '/v1/workspace', headers: acme.auth })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['ratelimit-policy'], '"workspace";q=3;w=60')
    left.push(String(res.headers.ratelimit).replace(/;t=\d+$/, ''))
  }
  t.same(left, ['"workspace";r=2', '"workspace";r=1', '"workspace";r=0'])

  const refused = await app.inject({ url: '/v1/rules', headers: acme.auth })
  t.equal(refused.statusCode, 429)
  t.equal(refused.json().code, 'rate_limited')
  const retryAfter = Number(refused.headers['retry-after'])
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`)
  t.match(refused.headers.ratelimit, /^"workspace";r=0;t=\d+$/)

  const neighbour = await app.inject({ url: '/v1/workspace', headers: other.auth })
  t.equal(neighbour.statusCode, 200, 'another workspace is not held back')
  const operatorCall = await app.inject({ url: '/operator/workspaces', headers: operator })
  t.equal(operatorCall.statusCode, 200, 'the operator API has no quota')
  const anonymous = await app.inject({ url: '/v1/workspace' })
  t.equal(anonymous.statusCode, 401, 'no key: 401 before any quota is spent')
  t.notOk(anonymous.headers.ratelimit)
})

t.test('API_RATE_PER_MINUTE=0 turns the limit off', async (t) => {
  const { app } = await build(t, { apiRatePerMinute: 0 })
  const ws = await createWorkspace(app)
  const res = await app.inject({ url: '/v1/workspace', headers: ws.auth })
  t.equal(res.statusCode, 200)
  t.notOk(res.headers.ratelimit)
})
