import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { build, createWorkspace, operator } from '../helpers/app.js'
import { createHandler, listen, send } from '../helpers/inbound.js'
import { parsePrometheus, value } from '../helpers/prometheus.js'
import { mixedHandler } from './fixtures.js'

const OUTCOMES = ['accepted', 'duplicate', 'filtered', 'inactive', 'rejected', 'invalid', 'error']

async function inboundCounts(app: FastifyInstance) {
  const res = await app.inject({ url: '/metrics', headers: operator })
  const samples = parsePrometheus(res.body)
  return Object.fromEntries(
    OUTCOMES.map((outcome) => [
      outcome,
      value(samples, 'hookline_inbound_calls_total', { outcome }),
    ]),
  )
}

t.test('every recorded call counts once, under the outcome the call log holds', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const handler = await createHandler(app, ws.auth, mixedHandler)
  const url = `${base}${handler.path}`
  const guarded = await createHandler(app, ws.auth, {
    title: 'Guarded',
    mapping: [{ source: 'email', target: 'lead.email' }],
    verification: {
      type: 'secret_header',
      header: 'X-Form-Token',
      secret: 'form-token-0123456789',
    },
  })
  const paused = await createHandler(app, ws.auth, {
    title: 'Paused',
    mapping: [{ source: 'email', target: 'lead.email' }],
  })
  await app.inject({ method: 'POST', url: `/v1/handlers/${paused.id}/disable`, headers: ws.auth })

  t.same(
    await inboundCounts(app),
    Object.fromEntries(OUTCOMES.map((outcome) => [outcome, 0])),
    'every outcome starts at zero',
  )

  const statuses = [
    await send(url, { headers: form, body: 'email=a@a.example' }), // accepted
    await send(url, { headers: form, body: 'email=b@b.example' }), // accepted
    await send(url, { headers: form, body: 'email=a@a.example' }), // duplicate
    await send(url, { headers: form, body: 'email=c@c.test' }), // filtered
    await send(url, { headers: form, body: 'email=d@d.test' }), // filtered
    await send(url, { headers: form, body: 'email=nope' }), // invalid
    await send(url, { headers: form, body: '' }), // invalid: email is required
    await send(`${url}?email=e@e.example`, { method: 'GET' }), // error: no lookup URL
    await send(`${base}${guarded.path}`, { headers: form, body: 'email=f@f.example' }), // rejected
    await send(`${base}${paused.path}`, { headers: form, body: 'email=g@g.example' }), // inactive
  ].map((sent) => sent.status)
  t.same(statuses, [200, 200, 200, 200, 200, 400, 400, 502, 401, 503])
  // Identical calls at once: one wins the claim, the others are duplicates.
  const race = await Promise.all(
    Array.from({ length: 5 }, () => send(url, { headers: form, body: 'email=h@h.example' })),
  )
  t.same(
    race.map((sent) => sent.status),
    [200, 200, 200, 200, 200],
  )
  // Neither an unknown token nor a malformed one is a recorded call.
  t.equal((await send(`${base}/in/hli_DoesNotExist0000000000000000000`)).status, 404)
  t.equal((await send(`${base}/in/nope`)).status, 404)

  t.same(await inboundCounts(app), {
    accepted: 3,
    duplicate: 5,
    filtered: 2,
    inactive: 1,
    rejected: 1,
    invalid: 2,
    error: 1,
  })
})
