// DATABASE_READ_URL: the history reads (deliveries with their attempts,
// events, inbound calls, mass-post reports) go to the read replica; every
// write and every other read stays on DATABASE_URL. The "replica" here is a
// snapshot of the primary taken mid-test (CREATE DATABASE … TEMPLATE), opened
// read-only: it lags for ever, so what each GET answers shows which database
// it read, and any write sent to it would fail.
import pg from 'pg'
import t from 'tap'
import { startService } from '../faults/helpers.js'
import { testDatabase } from '../helpers/database.js'
import { send } from '../helpers/inbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'
import { mixedHandler } from '../inbound/fixtures.js'

const operator = { authorization: 'Bearer fault-operator-token-0123456789' }
const json = { 'content-type': 'application/json' }
const form = { 'content-type': 'application/x-www-form-urlencoded' }

t.test('history reads go to DATABASE_READ_URL, everything else to DATABASE_URL', async (t) => {
  const primary = await testDatabase(t)
  const receiver = await startReceiver(t)

  const start = async (env: Record<string, string> = {}) => {
    const service = startService(t, primary.url, { ROLE: 'all', ...env })
    const line = await service
      .waitForLine(/Server listening at http:\/\/127\.0\.0\.1:\d+/, 120_000)
      .catch((err) => {
        t.comment(service.lines.slice(-20).join('\n'))
        throw err
      })
    const base = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!
    const call = async (method: 'GET' | 'POST', path: string, auth: object, body?: unknown) => {
      const res = await send(`${base}${path}`, {
        method,
        headers: { ...auth, ...(body === undefined ? {} : json) } as Record<string, string>,
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      return { status: res.status, body: res.text ? res.json() : undefined }
    }
    const api = async (method: 'GET' | 'POST', path: string, auth: object, body?: unknown) => {
      const res = await call(method, path, auth, body)
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status}`)
      return res.body
    }
    return { service, base, call, api }
  }
  const lead = (id: string) => ({
    type: 'lead.created',
    record: { entity_type: 'lead', entity_id: id, fields: { lead: { id } } },
  })

  // Before the snapshot: a delivered event, an inbound call, a mass post.
  const first = await start()
  const ws = await first.api('POST', '/operator/workspaces', operator, { name: 'Replicated' })
  const key = await first.api('POST', `/operator/workspaces/${ws.id}/api-keys`, operator, {
    name: 'k',
  })
  const auth = { authorization: `Bearer ${key.key}` }
  const rule = await first.api('POST', '/v1/rules', auth, {
    title: 'Rule',
    event_types: ['lead.created'],
    request: { method: 'POST', url: `${receiver.url}/hook`, body_format: 'json' },
  })
  const old = await first.api('POST', '/v1/events', auth, lead('L-old'))
  const oldDelivery = old.deliveries[0] as string
  await eventually(
    async () =>
      (await first.api('GET', `/v1/deliveries/${oldDelivery}`, auth)).status === 'succeeded',
    60_000,
  )
  const handler = await first.api('POST', '/v1/handlers', auth, mixedHandler)
  const endpoint = (base: string) => `${base}${new URL(handler.endpoint_url).pathname}`
  t.ok(
    (await send(endpoint(first.base), { headers: form, body: 'email=a@a.example' })).status < 300,
  )
  await eventually(
    async () => (await first.api('GET', `/v1/handlers/${handler.id}/calls`, auth)).data.length,
    60_000,
  )
  const massPost = await first.api('POST', `/v1/rules/${rule.id}/mass-posts`, auth, {
    records: [lead('M-1').record, lead('M-2').record],
  })
  // What the replica will hold: the event's delivery and the accepted call's forward to the CRM.
  const ids = (page: { data: { id: string }[] }) => page.data.map((d) => d.id)
  // (The call's forward waits for a CRM callback URL, which is never set here.)
  await eventually(
    async () => (await first.api('GET', '/v1/deliveries', auth)).data.length === 2,
    60_000,
  )
  const snapshotDeliveries = ids(await first.api('GET', '/v1/deliveries', auth))
  first.service.child.kill('SIGTERM')
  await first.service.exited

  // The snapshot: the replica, read-only.
  const admin = new pg.Client({ connectionString: process.env.HOOKLINE_TEST_ADMIN_URL })
  await admin.connect()
  t.teardown(() => admin.end())
  const replicaName = `${primary.name}_replica`
  t.teardown(() => admin.query(`drop database if exists ${replicaName} with (force)`))
  // A backend of the stopped service may take a moment to go.
  await eventually(
    () =>
      admin.query(`create database ${replicaName} template ${primary.name}`).then(
        () => true,
        () => false,
      ),
    30_000,
  )
  const replicaUrl = new URL(primary.url)
  replicaUrl.pathname = `/${replicaName}`
  replicaUrl.searchParams.set('options', '-c default_transaction_read_only=on')

  // After it: the service reads history from the replica, writes to the primary.
  const second = await start({ DATABASE_READ_URL: replicaUrl.toString() })
  const fresh = await second.api('POST', '/v1/events', auth, lead('L-new'))
  const freshDelivery = fresh.deliveries[0] as string
  t.ok(
    (await send(endpoint(second.base), { headers: form, body: 'email=b@b.example' })).status < 300,
    'an inbound call is taken',
  )
  const rule2 = await second.api('POST', '/v1/rules', auth, {
    title: 'Made after the snapshot',
    event_types: ['lead.updated'],
    request: { method: 'POST', url: `${receiver.url}/other`, body_format: 'json' },
  })
  await eventually(async () => {
    const { rows } = await primary.pool.query(
      `select (select count(*) from deliveries where id = $1 and status = 'succeeded')::int as fresh,
              (select count(*) from inbound_calls)::int as calls`,
      [freshDelivery],
    )
    return rows[0].fresh === 1 && rows[0].calls === 2
  }, 60_000)
  t.pass('the new delivery and call are on the primary: writes went to DATABASE_URL')

  t.ok(snapshotDeliveries.includes(oldDelivery))
  t.same(
    ids(await second.api('GET', '/v1/deliveries', auth)),
    snapshotDeliveries,
    'the delivery list is the replica’s',
  )
  const detail = await second.api('GET', `/v1/deliveries/${oldDelivery}`, auth)
  t.equal(detail.attempt_history.length, 1, 'a delivery’s attempts come from the replica')
  t.equal(
    (await second.call('GET', `/v1/deliveries/${freshDelivery}`, auth)).status,
    404,
    'a delivery the replica has not seen yet is not found',
  )
  t.equal((await second.call('GET', `/v1/events/${old.id}`, auth)).status, 200)
  t.equal(
    (await second.call('GET', `/v1/events/${fresh.id}`, auth)).status,
    404,
    'events are read from the replica',
  )
  const calls = await second.api('GET', `/v1/handlers/${handler.id}/calls`, auth)
  t.equal(calls.data.length, 1, 'the call log is the replica’s')
  t.equal((await second.call('GET', `/v1/calls/${calls.data[0].id}`, auth)).status, 200)
  t.equal((await second.api('GET', `/v1/mass-posts/${massPost.id}`, auth)).total, 2)
  t.equal(
    (await second.api('GET', `/v1/mass-posts/${massPost.id}/items`, auth)).data.length,
    2,
    'a mass post’s report reads the replica',
  )
  t.equal(
    (await second.call('GET', `/v1/rules/${rule2.id}`, auth)).status,
    200,
    'reads that are not history stay on the primary',
  )

  const sessions = await admin.query<{ datname: string }>(
    `select distinct datname from pg_stat_activity where application_name = 'hookline-read'`,
  )
  t.same(
    sessions.rows.map((r) => r.datname),
    [replicaName],
    'the read pool is connected to the replica only',
  )
  t.same(
    second.service.lines.filter((line) => /read-only transaction/i.test(line)),
    [],
    'nothing tried to write through the read pool',
  )
})
