// A property-based fuzz of the management API: for every /v1 operation of
// the live OpenAPI document, bodies and query strings generated from its
// schemas, half of them broken (a node replaced by junk, a key dropped, an
// unknown key added), sent with real ids and random ones. No answer is ever a
// 5xx, and every 4xx has the error shape. Bounded: HOOKLINE_FUZZ_RUNS requests
// in all (default 800; a long hunt: `HOOKLINE_FUZZ_RUNS=20000 npm test --
// test/fuzz/`), HOOKLINE_FUZZ_SEED to replay a failure.
import fc from 'fast-check'
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, lead, postEvent, ruleBody } from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'
import { arbitraryFor, type Components, mutated, type Schema } from './schema-arbitrary.js'

interface Parameter {
  in: string
  name: string
  required?: boolean
  schema: Schema
}

interface Operation {
  method: string
  path: string
  parameters?: Parameter[]
  requestBody?: { content: Record<string, { schema: Schema }> }
}

const totalRuns = Number(process.env.HOOKLINE_FUZZ_RUNS ?? 800)
const seed = process.env.HOOKLINE_FUZZ_SEED ? Number(process.env.HOOKLINE_FUZZ_SEED) : undefined

t.test('no 5xx for any body, query or id', async (t) => {
  const { app } = await build(t)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  const doc = (await app.inject({ url: '/openapi.json' })).json<{
    paths: Record<string, Record<string, Operation>>
    components: { schemas: Components }
  }>()
  const components = doc.components.schemas

  // Real ids, so generated bodies reach the services, not only the 404 check.
  // Sends only ever go to the local receiver: the rule they use is never patched.
  const sender = await createRule(app, ws, ruleBody(`${receiver.url}/fuzz`))
  const victim = await createRule(app, ws, ruleBody(`${receiver.url}/victim`))
  const event = await postEvent(app, ws, 'lead.created', lead({ email: 'a@example.com' }))
  const massPost = await app.inject({
    method: 'POST',
    url: `/v1/rules/${sender.id}/mass-posts`,
    headers: ws.auth,
    payload: { records: [lead({}, 'L-1')] },
  })
  const handler = await app.inject({
    method: 'POST',
    url: '/v1/handlers',
    headers: ws.auth,
    payload: { title: 'fuzz', body_format: 'json' },
  })
  const sends = /\/(test|execute|preview|mass-posts|start)$/
  const idFor = (name: string, path: string): string | undefined =>
    ({
      ruleId: sends.test(path) ? sender.id : victim.id,
      eventId: event.id,
      deliveryId: event.deliveries[0],
      massPostId: massPost.json().id,
      name: 'lead.created',
      handlerId: handler.statusCode === 201 ? handler.json().id : undefined,
      callId: 'call_00000000000000000000000000',
    })[name]

  const ops: Operation[] = []
  for (const [path, methods] of Object.entries(doc.paths)) {
    if (!path.startsWith('/v1/')) continue
    for (const [method, op] of Object.entries(methods)) {
      ops.push({ ...op, method: method.toUpperCase(), path })
    }
  }
  t.ok(ops.length >= 40, `${ops.length} operations`)
  const runs = Math.max(10, Math.ceil(totalRuns / ops.length))
  let requests = 0
  const statuses = new Map<number, number>()

  for (const op of ops) {
    const bodySchema = op.requestBody?.content['application/json']?.schema
    // The schema's own examples are valid and deep: broken at one node, they get past
    // the schema into the services' own checks far more often than generated bodies.
    const examples = bodySchema?.$ref
      ? (components[bodySchema.$ref.split('/').pop() as string]?.examples ?? [])
      : []
    const body = bodySchema
      ? fc.oneof(
          arbitraryFor(bodySchema, components),
          mutated(arbitraryFor(bodySchema, components)),
          ...examples.map((example) => mutated(fc.constant(example))),
        )
      : fc.constant(undefined)
    const queryParams = (op.parameters ?? []).filter((p) => p.in === 'query')
    const query = fc.record(
      Object.fromEntries(
        queryParams.map((p) => [
          p.name,
          fc.oneof(arbitraryFor(p.schema, components), fc.string({ maxLength: 20 })),
        ]),
      ),
      { requiredKeys: [] },
    )
    const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path')
    const ids = fc.record(
      Object.fromEntries(
        pathParams.map((p) => {
          const real = idFor(p.name, op.path)
          const random = fc.string({ minLength: 1, maxLength: 40, unit: 'binary' })
          return [p.name, real ? fc.oneof(fc.constant(real), fc.constant(real), random) : random]
        }),
      ),
    )
    // Now and then the body is not even JSON.
    const raw = fc.option(fc.string({ unit: 'binary', maxLength: 50 }), { freq: 10 })

    await fc.assert(
      fc.asyncProperty(body, query, ids, raw, async (payload, q, pathIds, rawBody) => {
        const url =
          op.path.replace(/\{(\w+)\}/g, (_, name: string) =>
            encodeURIComponent(String(pathIds[name])),
          ) +
          (Object.keys(q).length > 0
            ? `?${new URLSearchParams(
                Object.entries(q).map(([k, v]): [string, string] => [
                  k,
                  typeof v === 'string' ? v : JSON.stringify(v),
                ]),
              )}`
            : '')
        const hasBody = op.method !== 'GET' && op.method !== 'DELETE'
        const res = await app.inject({
          method: op.method as 'POST',
          url,
          headers: { ...ws.auth, ...(hasBody ? { 'content-type': 'application/json' } : {}) },
          ...(hasBody
            ? { payload: rawBody ?? (payload === undefined ? '{}' : JSON.stringify(payload)) }
            : {}),
        })
        requests++
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        if (res.statusCode >= 500) {
          throw new Error(`${op.method} ${op.path} answered ${res.statusCode}: ${res.body}`)
        }
        if (res.statusCode >= 400) {
          const error = res.json()
          if (
            typeof error.code !== 'string' ||
            typeof error.message !== 'string' ||
            error.statusCode !== res.statusCode
          ) {
            throw new Error(`${op.method} ${op.path}: not the error shape: ${res.body}`)
          }
        }
      }),
      { numRuns: runs, ...(seed !== undefined ? { seed } : {}), endOnFailure: false },
    )
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  t.pass(`${requests} requests, none a 5xx`)
  t.comment(
    `status counts: ${[...statuses]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s}×${n}`)
      .join(' ')}`,
  )
})
