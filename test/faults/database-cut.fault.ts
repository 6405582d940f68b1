// Fault 3: every connection of a worker process cut (pg_terminate_backend)
// in the middle of a claim, in the middle of a result write, and then over
// and over while deliveries flow. The process reconnects by itself and every
// delivery ends succeeded; none is left `delivering`.
import { createServer } from 'node:net'
import pg from 'pg'
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import type { TestDatabase } from '../helpers/database.js'
import { createRule, ruleBody } from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'
import { deliveryCounts, jobCounts, postLeads, sleep, startService, webhookIds } from './helpers.js'

// The service's pool and its LISTEN connection; the test's own pool is `hookline-test`.
const SERVICE_CONNECTIONS = "application_name in ('hookline', 'hookline-queue-listener')"

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Cuts every connection of the service; answers what each was doing. */
async function cutAll(database: TestDatabase) {
  const { rows } = await database.pool.query<{ query: string; state: string; waiting: boolean }>(
    `select query, state, wait_event_type = 'Lock' as waiting, pg_terminate_backend(pid)
    from pg_stat_activity
    where datname = current_database() and ${SERVICE_CONNECTIONS} and pid <> pg_backend_pid()`,
  )
  return rows
}

/** Holds `lock table … in exclusive mode` (reads pass, writes wait) until released. */
async function lockTable(database: TestDatabase, table: string) {
  const client = new pg.Client({ connectionString: database.url })
  await client.connect()
  await client.query('begin')
  await client.query(`lock table ${table} in exclusive mode`)
  return async () => {
    await client.query('commit')
    await client.end()
  }
}

/** Waits until a service connection is blocked on a statement matching `like`. */
function blockedOn(database: TestDatabase, like: string) {
  return eventually(async () => {
    const { rows } = await database.pool.query(
      `select 1 from pg_stat_activity
      where datname = current_database() and ${SERVICE_CONNECTIONS}
        and wait_event_type = 'Lock' and query ilike $1`,
      [like],
    )
    return rows.length > 0
  }, 60_000)
}

t.test('connections cut during claims, result writes and at random', async (t) => {
  const { app, database } = await build(t)
  // Closed, the receiver holds its answers until it opens again.
  let gate: { open: Promise<void>; release: () => void } | undefined
  const receiver = await startReceiver(t, (_req, res) => {
    const answer = () => setTimeout(() => res.writeHead(200).end('ok'), 10)
    if (gate) void gate.open.then(answer)
    else answer()
  })
  const ws = await createWorkspace(app)
  for (let i = 0; i < 5; i++) await createRule(app, ws, ruleBody(`${receiver.url}/r${i}`))
  const service = startService(t, database.url, {
    QUEUE_LEASE_MS: '2000',
    WORKER_CONCURRENCY: '20',
    // The five rules' one receiver stands for five: no host cap.
    WORKER_CONCURRENCY_PER_HOST: '20',
  })
  const ids: string[] = []

  // Up and running first: a cut while the process boots makes it exit
  // ("failed to start", like a failed migration) for its supervisor to restart.
  ids.push(...(await postLeads(app, ws, 20, 'A')))
  await eventually(async () => (await deliveryCounts(database)).succeeded === 100, 60_000)

  // 1. During a claim: the claim (run by every poll) waits on the table lock; cut it there.
  // It is the function claim_jobs (migrations/0035), or claim_delivery_jobs (0040) when idle.
  const unlockJobs = await lockTable(database, 'jobs')
  await blockedOn(database, '%claim_%jobs(%')
  const cutInClaim = await cutAll(database)
  await unlockJobs()
  t.ok(
    cutInClaim.some((c) => c.waiting && /claim_(delivery_)?jobs\(/.test(c.query)),
    'a claim was cut',
  )

  // 2. During a result write: a first success is written into its delivery's
  // row (migrations/0019). The receiver holds its answers while the B leads go
  // in and out to it; then `deliveries` is locked (reads pass, writes wait) and
  // the answers let go, so the outcome's UPDATE waits: cut it there.
  let release = () => {}
  gate = { open: new Promise<void>((resolve) => (release = resolve)), release }
  ids.push(...(await postLeads(app, ws, 20, 'B')))
  await eventually(async () => (receiver.received.length > 100 ? true : undefined), 60_000)
  const unlockDeliveries = await lockTable(database, 'deliveries')
  gate.release()
  gate = undefined
  await blockedOn(database, '%update deliveries%')
  const cutInWrite = await cutAll(database)
  await unlockDeliveries()
  t.ok(
    cutInWrite.some((c) => c.waiting && /update deliveries/.test(c.query)),
    'a result write was cut',
  )

  // 3. At random: every connection, every 200 ms, for 5 s, while deliveries flow.
  ids.push(...(await postLeads(app, ws, 200, 'C')))
  let cuts = 0
  let active = 0
  for (let i = 0; i < 25; i++) {
    const cut = await cutAll(database)
    cuts += cut.length
    active += cut.filter((c) => c.state === 'active').length
    await sleep(200)
  }
  const afterStorm = await deliveryCounts(database)
  const stormEnded = Date.now()

  t.equal(ids.length, 1200, 'events in: 240 events × 5 rules')
  await eventually(async () => (await deliveryCounts(database)).succeeded === ids.length, 120_000)
  const recoveryMs = Date.now() - stormEnded
  t.match(
    await deliveryCounts(database),
    { succeeded: 1200, delivering: 0, queued: 0, failed: 0, total: 1200 },
    'deliveries finished = events in; none stuck delivering',
  )
  const seen = webhookIds(receiver.received)
  t.same([...seen.keys()].sort(), [...ids].sort(), 'the receiver saw every delivery id')
  await eventually(async () => (await jobCounts(database)).live === 0, 60_000)
  t.equal((await jobCounts(database)).dead, 0, 'no job died of the cuts')
  t.ok(service.alive, 'the worker process survived every cut and reconnected by itself')
  // A cut listener reconnects on its own; the one it replaced may linger in
  // pg_stat_activity for a moment before its backend exits.
  const listeners = async () =>
    (
      await database.pool.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where application_name = 'hookline-queue-listener'",
      )
    ).rows[0]!.n
  const settled = await eventually(async () => ((await listeners()) === 1 ? 1 : undefined), 30_000)
  t.equal(settled, 1, 'its LISTEN connection is back, one of it')
  t.comment(
    `figures: storm cut ${cuts} connections (${active} mid-statement); ${afterStorm.succeeded} of 1200 done when it ended; all 1200 done ${recoveryMs} ms after it; ${receiver.received.length - seen.size} sent twice`,
  )
})

t.test('connections cut during inbound calls: no call acknowledged and then missing', async (t) => {
  const { app, database } = await build(t)
  const crm = await startReceiver(t)
  const ws = await createWorkspace(app)
  const settings = await app.inject({
    method: 'PATCH',
    url: '/v1/settings',
    headers: ws.auth,
    payload: { crm_callback_url: `${crm.url}/crm` },
  })
  t.equal(settings.statusCode, 200)
  const handler = await app.inject({
    method: 'POST',
    url: '/v1/handlers',
    headers: ws.auth,
    payload: {
      title: 'form',
      body_format: 'form',
      parameters: [{ name: 'n', type: 'string', required: true }],
      mapping: [{ source: 'n', target: 'lead.n' }],
    },
  })
  t.equal(handler.statusCode, 201, 'handler created', { body: handler.body })
  const port = await freePort()
  const service = startService(t, database.url, {
    ROLE: 'all',
    PORT: String(port),
    QUEUE_LEASE_MS: '2000',
    WORKER_CONCURRENCY: '20',
  })
  const endpoint = `http://127.0.0.1:${port}${new URL(handler.json().endpoint_url).pathname}`
  await eventually(
    async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.ok,
    60_000,
  )

  // Calls, ten at a time, while every connection of the service is cut every 200 ms.
  const answers: { n: number; status: number; callId: string | null }[] = []
  let storming = true
  const storm = (async () => {
    while (storming) {
      await cutAll(database)
      await sleep(200)
    }
  })()
  const total = 400
  let next = 0
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < total) {
        const n = next++
        const res = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `n=${n}`,
        }).catch(() => null)
        await res?.arrayBuffer()
        answers.push({
          n,
          status: res?.status ?? 0,
          callId: res?.headers.get('x-hookline-call-id') ?? null,
        })
      }
    }),
  )
  storming = false
  await storm

  const acknowledged = answers.filter((a) => a.status >= 200 && a.status < 300)
  t.ok(acknowledged.length > 0, 'some calls were acknowledged through the cuts')
  t.ok(
    acknowledged.every((a) => a.callId),
    'each acknowledged call names its call id',
  )
  const { rows: calls } = await database.pool.query<{
    id: string
    outcome: string
    notice: string | null
  }>('select id, outcome, notice_delivery_id as notice from inbound_calls where id = any($1)', [
    acknowledged.map((a) => a.callId),
  ])
  t.equal(calls.length, acknowledged.length, 'every acknowledged call is in the call log')
  t.same(
    calls.filter((c) => c.outcome !== 'accepted' || !c.notice),
    [],
    'each accepted, with the notice that forwards it',
  )
  // Every acknowledged call reaches the CRM: events in = deliveries finished.
  const notices = calls.map((c) => c.notice as string)
  await eventually(async () => {
    const { rows } = await database.pool.query<{ n: number }>(
      "select count(*)::int as n from deliveries where id = any($1) and status = 'succeeded'",
      [notices],
    )
    return rows[0]!.n === notices.length
  }, 120_000)
  const seen = webhookIds(crm.received)
  t.same(
    notices.filter((id) => !seen.has(id)),
    [],
    'the CRM received every acknowledged call',
  )
  t.ok(service.alive, 'the service survived every cut')
  const byStatus = new Map<number, number>()
  for (const a of answers) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1)
  t.comment(
    `figures: ${total} calls during the storm; answers ${[...byStatus]
      .map(([s, n]) => `${s}×${n}`)
      .join(' ')}; ${acknowledged.length} acknowledged, all logged and forwarded`,
  )
})
