// The service behind a transaction pooler (Debian's PgBouncer, transaction
// mode, no prepared-statement support): with DATABASE_PREPARED_STATEMENTS=false
// and LISTEN on a direct connection (DATABASE_LISTEN_URL), it migrates an
// empty database, delivers events and takes inbound calls, all through it.
import t from 'tap'
import { startService, webhookIds } from '../faults/helpers.js'
import { emptyDatabase } from '../helpers/database.js'
import { send } from '../helpers/inbound.js'
import { startPgbouncer } from '../helpers/pgbouncer.js'
import { eventually, startReceiver } from '../helpers/receiver.js'
import { mixedHandler } from '../inbound/fixtures.js'

const operator = { authorization: 'Bearer fault-operator-token-0123456789' }
const json = { 'content-type': 'application/json' }

t.test('behind PgBouncer in transaction mode: migrations, deliveries, inbound calls', async (t) => {
  const database = await emptyDatabase(t)
  const pooler = await startPgbouncer(t, database.url)
  const receiver = await startReceiver(t)
  const service = startService(t, pooler.url, {
    ROLE: 'all',
    DATABASE_LISTEN_URL: database.url,
    DATABASE_PREPARED_STATEMENTS: 'false',
  })
  const listening = await service
    .waitForLine(/Server listening at http:\/\/127\.0\.0\.1:\d+/, 120_000)
    .catch((err) => {
      t.comment(service.lines.slice(-20).join('\n'))
      throw err
    })
  const base = /(http:\/\/127\.0\.0\.1:\d+)/.exec(listening)![1]!
  const api = async (method: 'GET' | 'POST', path: string, auth: object, body?: unknown) => {
    const res = await send(`${base}${path}`, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : json) } as Record<string, string>,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`)
    return res.json()
  }

  // The pooled sessions go through PgBouncer (it adds the client's address to
  // their application_name); the LISTEN session alone comes straight in (an
  // idle worker's claim goes out on it too, so it may show that statement).
  const sessions = async () =>
    (
      await database.pool.query<{ application_name: string; query: string }>(
        `select application_name, query from pg_stat_activity where datname = current_database()`,
      )
    ).rows
  await eventually(
    async () =>
      (await sessions()).some(
        (s) =>
          s.application_name === 'hookline-queue-listener' &&
          /^(listen |select \* from claim_delivery_jobs\()/i.test(s.query),
      ),
    30_000,
  )
  t.ok(
    (await sessions()).some((s) => /^hookline - 127\.0\.0\.1:\d+$/.test(s.application_name)),
    'the pool goes through PgBouncer',
  )

  // Delivery journey: a workspace, a key, a rule; one event, then a batch.
  const ws = await api('POST', '/operator/workspaces', operator, { name: 'Pooled' })
  const key = await api('POST', `/operator/workspaces/${ws.id}/api-keys`, operator, { name: 'k' })
  const auth = { authorization: `Bearer ${key.key}` }
  await api('POST', '/v1/rules', auth, {
    title: 'Rule',
    event_types: ['lead.created'],
    request: { method: 'POST', url: `${receiver.url}/hook`, body_format: 'json' },
  })
  const lead = (id: string) => ({
    type: 'lead.created',
    record: { entity_type: 'lead', entity_id: id, fields: { lead: { id } } },
  })
  const one = await api('POST', '/v1/events', auth, lead('L-0'))
  const batch = await api('POST', '/v1/events/batch', auth, {
    events: Array.from({ length: 30 }, (_, i) => lead(`L-${i + 1}`)),
  })
  const ids: string[] = [
    ...one.deliveries,
    ...batch.data.flatMap((d: { deliveries: string[] }) => d.deliveries),
  ]
  t.equal(ids.length, 31)
  await receiver.waitFor(31, 120_000)
  await eventually(async () => {
    const statuses = await Promise.all(
      ids.map(async (id) => (await api('GET', `/v1/deliveries/${id}`, auth)).status),
    )
    return statuses.every((s) => s === 'succeeded')
  }, 60_000)
  t.same(
    [...webhookIds(receiver.received).entries()].sort(),
    ids.map((id) => [id, 1]).sort(),
    'every delivery sent once and recorded as succeeded',
  )

  // Inbound journey: accepted, duplicate (the protection period) and filtered.
  const handler = await api('POST', '/v1/handlers', auth, mixedHandler)
  const endpoint = `${base}${new URL(handler.endpoint_url).pathname}`
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const answers = []
  for (const body of ['email=a@a.example', 'email=a@a.example', 'email=b@b.test']) {
    answers.push((await send(endpoint, { headers: form, body })).status)
  }
  t.ok(
    answers.every((s) => s < 300),
    `the endpoint answered ${answers.join(', ')}`,
  )
  let outcomes: string[] = []
  await eventually(async () => {
    const page = await api('GET', `/v1/handlers/${handler.id}/calls`, auth)
    outcomes = page.data.map((c: { outcome: string }) => c.outcome)
    return outcomes.length === 3
  }, 60_000)
  t.same(outcomes, ['filtered', 'duplicate', 'accepted'], 'every call recorded, newest first')

  // What the pooler breaks shows as prepared-statement errors. (A connection
  // that times out on a loaded machine is logged too, and retried: not this.)
  t.same(
    service.lines.filter((line) => /prepared statement/i.test(line)),
    [],
    'no prepared-statement errors in the service log',
  )
})
