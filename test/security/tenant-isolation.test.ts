// Tenant isolation: every /v1 operation of the live OpenAPI document that
// takes an id, called with workspace A's key and workspace B's real ids,
// answers 404 and changes nothing of B's. A revoked key gets 401 everywhere.
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { build, createWorkspace, operator } from '../helpers/app.js'
import type { TestDatabase } from '../helpers/database.js'
import { createRule, lead, postEvent, ruleBody } from '../helpers/outbound.js'
import { assertError } from './helpers.js'

interface Operation {
  method: string
  path: string
  requestBody?: { content: Record<string, { schema: { $ref?: string } }> }
  parameters?: {
    in: string
    name: string
    required?: boolean
    schema?: { default?: unknown; minimum?: number }
  }[]
}

interface OpenApi {
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, { examples?: unknown[] }> }
}

/** Every operation in the document, with its method and path. */
function operations(doc: OpenApi): Operation[] {
  const out: Operation[] = []
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) {
        out.push({ ...op, method: method.toUpperCase(), path })
      }
    }
  }
  return out
}

/** A valid body for the operation: its schema's first example, or one of ours. */
function exampleBody(doc: OpenApi, op: Operation, fallback: Record<string, unknown>) {
  if (!op.requestBody) return undefined
  const ref = op.requestBody.content['application/json']?.schema.$ref
  const name = ref?.split('/').pop() ?? ''
  return fallback[name] ?? doc.components.schemas[name]?.examples?.[0] ?? {}
}

/**
 * B's data as one comparable value: a digest of every row of every table
 * that has a workspace_id, taken for B only, and row counts of the others.
 */
async function fingerprint(database: TestDatabase, workspaceId: string) {
  const { rows: tables } = await database.pool.query<{ table_name: string; scoped: boolean }>(
    `select t.table_name, exists (
        select 1 from information_schema.columns c
        where c.table_schema = 'public' and c.table_name = t.table_name and c.column_name = 'workspace_id'
      ) as scoped
    from information_schema.tables t
    where t.table_schema = 'public' and t.table_type = 'BASE TABLE' order by 1`,
  )
  const out: Record<string, unknown> = {}
  for (const { table_name, scoped } of tables) {
    const { rows } = scoped
      ? await database.pool.query(
          // last_used_at is a key's "seen" hint, not data.
          `select md5(coalesce(string_agg((to_jsonb(x) - 'last_used_at')::text, ',' order by x::text), '')) as v
          from ${table_name} x where workspace_id = $1`,
          [workspaceId],
        )
      : table_name === 'hookline_migrations'
        ? { rows: [] }
        : await database.pool.query(`select count(*)::int as v from ${table_name}`)
    out[table_name] = rows[0]?.v
  }
  return out
}

async function json(
  app: FastifyInstance,
  method: string,
  url: string,
  auth: Record<string, string>,
  payload?: object,
) {
  const res = await app.inject({
    method: method as 'GET',
    url,
    headers: auth,
    ...(payload ? { payload } : {}),
  })
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
  return res.json()
}

// One app and database for the file.
const testApp = await build(t)

t.test('another workspace’s ids answer 404 on every route and change nothing', async (t) => {
  const { app, database } = testApp
  const a = await createWorkspace(app, 'A')
  const b = await createWorkspace(app, 'B')
  const doc = (await app.inject({ url: '/openapi.json' })).json<OpenApi>()

  // B's real resources, one of each kind that a route takes an id of.
  const rule = await createRule(
    app,
    b,
    ruleBody('https://receiver.example.com/b', { auth: { type: 'bearer', token: 'b-token' } }),
  )
  const event = await postEvent(app, b, 'lead.created', lead({ email: 'b@example.com' }))
  const massPost = await json(app, 'POST', `/v1/rules/${rule.id}/mass-posts`, b.auth, {
    records: [lead({}, 'L-1'), lead({}, 'L-2')],
  })
  await json(app, 'PUT', '/v1/event-types/lead.created', b.auth, { description: 'B’s' })
  const ids: Record<string, string> = {
    ruleId: rule.id,
    eventId: event.id,
    deliveryId: event.deliveries[0]!,
    massPostId: massPost.id,
    name: 'lead.created',
  }
  const hasHandlers = Object.keys(doc.paths).some((p) => p.startsWith('/v1/handlers'))
  if (hasHandlers) {
    const handler = await json(app, 'POST', '/v1/handlers', b.auth, {
      title: 'B form',
      body_format: 'form',
      parameters: [{ name: 'email', type: 'email', required: true }],
      mapping: [{ source: 'email', target: 'lead.email' }],
      verification: { type: 'secret_header', header: 'X-Form-Token', secret: 'b-handler-secret' },
    })
    const call = await app.inject({
      method: 'POST',
      url: new URL(handler.endpoint_url).pathname,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-form-token': 'b-handler-secret',
      },
      payload: 'email=b%40example.com',
    })
    t.ok(call.statusCode < 500, `an inbound call was made (${call.statusCode})`)
    const calls = await json(app, 'GET', `/v1/handlers/${handler.id}/calls`, b.auth)
    ids.handlerId = handler.id
    ids.callId = calls.data[0]?.id
  }
  t.comment(`inbound handler routes ${hasHandlers ? 'present: swept' : 'absent: not swept'}`)

  const bodies: Record<string, unknown> = {
    UpdateRule: { title: 'taken over' },
    RuleReferences: { references: [{ reference: 'auto-1', name: 'A' }] },
    RecordBody: { record: lead({}) },
    ExecuteBody: { record: lead({}), mode: 'background' },
    UpsertEventType: { description: 'A’s' },
    UpdateHandler: { title: 'taken over' },
  }
  const upsert = (op: Operation) => op.method === 'PUT' && op.path === '/v1/event-types/{name}'
  const withIds = operations(doc)
    .filter((op) => op.path.startsWith('/v1/') && /\{\w+\}/.test(op.path))
    // The upsert gives A an event type of that name; the other calls must come first.
    .sort((x, y) => Number(upsert(x)) - Number(upsert(y)))
  t.ok(withIds.length >= 20, `${withIds.length} operations take an id`)
  const target = (op: Operation) => {
    const url = op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const id = ids[name]
      if (!id) throw new Error(`no id of B's for {${name}} in ${op.path}: add one to the sweep`)
      return encodeURIComponent(id)
    })
    const query = (op.parameters ?? [])
      .filter((p) => p.in === 'query' && p.required)
      .map((p) => `${p.name}=${p.schema?.default ?? p.schema?.minimum ?? 1}`)
      .join('&')
    return query ? `${url}?${query}` : url
  }
  // The control: with B's own key every id is real (reads answer 200). Reads
  // may create what is made on first use (B's signing secret), so before the snapshot.
  for (const op of withIds.filter((o) => o.method === 'GET')) {
    const own = await app.inject({ method: 'GET', url: target(op), headers: b.auth })
    t.equal(own.statusCode, 200, `GET ${op.path}: B's own key sees it`)
  }

  const before = await fingerprint(database, b.id)
  for (const op of withIds) {
    const payload = exampleBody(doc, op, bodies) as object | undefined
    const what = `${op.method} ${op.path}`
    const res = await app.inject({
      method: op.method as 'GET',
      url: target(op),
      headers: a.auth,
      ...(payload ? { payload } : {}),
    })
    if (upsert(op)) {
      // Names are per workspace: A upserts an event type of its own.
      t.ok(res.statusCode === 200 || res.statusCode === 201, `${what}: A's own (${res.body})`)
      continue
    }
    assertError(t, res, 404, /not found/, `${what} with A's key`)
    t.notMatch(res.body, /b-token|b-handler-secret|b@example\.com/, `${what}: nothing of B's shown`)
  }
  t.same(await fingerprint(database, b.id), before, 'nothing of B’s changed')
})

t.test('a revoked key gets 401 on every /v1 route', async (t) => {
  const { app } = testApp
  const ws = await createWorkspace(app)
  const doc = (await app.inject({ url: '/openapi.json' })).json<OpenApi>()
  const revoked = await app.inject({
    method: 'DELETE',
    url: `/operator/workspaces/${ws.id}/api-keys/${ws.keyId}`,
    headers: operator,
  })
  t.ok(revoked.statusCode < 300, 'revoked')
  for (const op of operations(doc).filter((o) => o.path.startsWith('/v1/'))) {
    const url = op.path.replace(/\{\w+\}/g, 'x_1')
    const res = await app.inject({ method: op.method as 'GET', url, headers: ws.auth, payload: {} })
    assertError(t, res, 401, /API key/, `${op.method} ${op.path}`)
  }
})
