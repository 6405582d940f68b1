import type { FastifyInstance } from 'fastify'
import t from 'tap'
import type { RuleView } from '../../src/schemas/rules.js'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, lead, postEvent, type Workspace } from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

// One app and database for the file; each test has its own workspace, receivers and workers.
const testApp = await build(t)

// Titles, triggers and URLs that sort the same under any collation: plain
// letters, one differing character, mixed case to prove the sort ignores it.
const specs = [
  { title: 'delta', enabled: true, event_types: ['lead.bravo'], path: 'c' },
  { title: 'Alpha', enabled: false, event_types: [], path: 'f' },
  { title: 'echo', enabled: true, event_types: ['lead.alpha', 'lead.zulu'], path: 'a' },
  { title: 'Charlie', enabled: false, event_types: ['lead.delta'], path: 'e' },
  { title: 'bravo', enabled: true, event_types: [], path: 'b' },
  { title: 'Golf', enabled: true, event_types: ['lead.charlie'], path: 'g' },
  { title: 'foxtrot', enabled: false, event_types: ['lead.alpha'], path: 'd' },
]

async function listAll(app: FastifyInstance, ws: Workspace, query: string) {
  const seen: RuleView[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const url: string = `/v1/rules?limit=2&${query}${cursor ? `&cursor=${cursor}` : ''}`
    const res = await app.inject({ url, headers: ws.auth })
    if (res.statusCode !== 200) throw new Error(`list: ${res.body}`)
    const page = res.json<{ data: RuleView[]; next_cursor: string | null }>()
    seen.push(...page.data)
    cursor = page.next_cursor
    if (++pages > 20) throw new Error('the cursor does not end')
  } while (cursor)
  return seen
}

/** A small RFC 4180 reader, enough to check what the export wrote. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"'
        i++
      } else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      row.push(cell)
      cell = ''
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell)
      rows.push(row)
      row = []
      cell = ''
      i++
    } else cell += c
  }
  return rows
}

t.test(
  'list: every sort, both directions, filters, and a cursor that visits each rule once',
  async (t) => {
    const { app } = testApp
    const ws = await createWorkspace(app)
    const rules: (RuleView & { path: string })[] = []
    for (const spec of specs) {
      const rule = await createRule(app, ws, {
        title: spec.title,
        description: spec.title === 'Golf' ? 'Sends 100%_ of leads' : '',
        enabled: spec.enabled,
        event_types: spec.event_types,
        request: { method: 'POST', url: `https://x.example/${spec.path}`, body_format: 'json' },
      })
      rules.push({ ...rule, path: spec.path })
    }
    const other = await createWorkspace(app, 'Other')
    await createRule(app, other, {
      title: 'alpha elsewhere',
      request: { method: 'POST', url: 'https://x.example/a', body_format: 'json' },
    })

    const keys: Record<string, (r: RuleView) => string | number> = {
      created: (r) => r.id,
      title: (r) => r.title.toLowerCase(),
      status: (r) => (r.enabled ? 1 : 0),
      trigger: (r) => r.event_types[0] ?? '',
      url: (r) => r.request.url,
    }
    for (const [sort, key] of Object.entries(keys)) {
      const asc = [...rules]
        .sort((a, b) => {
          const [x, y] = [key(a), key(b)]
          return x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : 1
        })
        .map((r) => r.id)
      t.same(
        (await listAll(app, ws, `sort=${sort}`)).map((r) => r.id),
        asc,
        `sort=${sort}`,
      )
      t.same(
        (await listAll(app, ws, `sort=-${sort}`)).map((r) => r.id),
        [...asc].reverse(),
        `sort=-${sort}`,
      )
    }
    const byDefault = await listAll(app, ws, '')
    t.same(
      byDefault.map((r) => r.id),
      rules
        .map((r) => r.id)
        .sort()
        .reverse(),
      'newest first by default',
    )

    const titles = async (query: string) =>
      (await listAll(app, ws, query)).map((r) => r.title).sort()
    t.same(await titles('status=enabled'), ['Golf', 'bravo', 'delta', 'echo'])
    t.same(await titles('status=disabled'), ['Alpha', 'Charlie', 'foxtrot'])
    t.same(await titles('event_type=lead.alpha'), ['echo', 'foxtrot'])
    t.same(await titles('event_type=lead.zulu'), ['echo'], 'any trigger, not only the first')
    t.same(await titles('q=ALPH'), ['Alpha'], 'text in the title, any case')
    t.same(await titles('q=x.example%2Fe'), ['Charlie'], 'text in the URL')
    t.same(await titles('q=100%25_'), ['Golf'], '% and _ are literal')
    t.same(await titles('q=%25'), ['Golf'])
    t.same(await titles('status=enabled&event_type=lead.alpha'), ['echo'], 'filters combine')

    const titleCursor = (
      await app.inject({ url: '/v1/rules?limit=1&sort=title', headers: ws.auth })
    ).json().next_cursor
    const mixed = await app.inject({
      url: `/v1/rules?limit=1&sort=status&cursor=${titleCursor}`,
      headers: ws.auth,
    })
    t.equal(mixed.statusCode, 400, 'a cursor of another sort is refused, not a 500')
    t.equal(mixed.json().code, 'invalid_cursor')
    const garbage = await app.inject({ url: '/v1/rules?cursor=not-a-cursor', headers: ws.auth })
    t.equal(garbage.statusCode, 400)
  },
)

t.test('CSV export: header, quoting, formula guard, same filters and order', async (t) => {
  const { app } = testApp
  const ws = await createWorkspace(app)
  const titles = [
    'Plain',
    'Hello, "World"',
    '=HYPERLINK("http://evil.example","x")',
    '+1 call me',
    '-2 minus',
    '@SUM(A1)',
    'Two\r\nlines',
  ]
  for (const title of titles) {
    await createRule(app, ws, {
      title,
      created_by: { id: 'u-1', name: 'Ada, Countess' },
      event_types: ['lead.created', 'lead.updated'],
      request: { method: 'PUT', url: 'https://x.example/hook?a=1,2', body_format: 'json' },
    })
  }
  await createRule(app, ws, {
    title: 'Manual',
    enabled: false,
    request: { method: 'POST', url: 'https://x.example/m', body_format: 'json' },
  })

  const res = await app.inject({ url: '/v1/rules/export.csv?sort=created', headers: ws.auth })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/csv/)
  t.match(res.headers['content-disposition'], /attachment; filename="rules.csv"/)
  const rows = parseCsv(res.body)
  t.same(rows[0], [
    'id',
    'title',
    'status',
    'trigger',
    'method',
    'url',
    'created_by',
    'created_at',
    'updated_at',
  ])
  t.equal(rows.length, titles.length + 2, 'a header and one row per rule')
  const exported = rows.slice(1).map((r) => r[1])
  t.same(exported, [
    'Plain',
    'Hello, "World"',
    '\'=HYPERLINK("http://evil.example","x")',
    "'+1 call me",
    "'-2 minus",
    "'@SUM(A1)",
    'Two\r\nlines',
    'Manual',
  ])
  const first = rows[1] as string[]
  t.same(first.slice(2, 7), [
    'enabled',
    'lead.created lead.updated',
    'PUT',
    'https://x.example/hook?a=1,2',
    'Ada, Countess',
  ])
  t.same((rows[8] as string[]).slice(2, 4), ['disabled', 'manual'])
  t.ok(res.body.includes('"Hello, ""World"""'), 'quotes are doubled inside a quoted cell')

  const filtered = await app.inject({
    url: '/v1/rules/export.csv?status=disabled',
    headers: ws.auth,
  })
  t.same(
    parseCsv(filtered.body)
      .slice(1)
      .map((r) => r[1]),
    ['Manual'],
  )
})

t.test('clone, enable, disable, references and guarded delete', async (t) => {
  const { app } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  const source = await createRule(app, ws, {
    title: 'Dialer',
    description: 'Qualified leads to the dialer',
    event_types: ['lead.updated'],
    conditions: { all: [{ field: 'lead.status', op: 'equals', value: 'Qualified' }] },
    request: {
      method: 'POST',
      url: `${receiver.url}/dial`,
      body_format: 'json',
      body_pairs: [{ key: 'id', value: '{{lead.id}}' }],
    },
    auth: { type: 'basic', username: 'dialer', password: 's3cret-pass' },
    execution: { max_attempts: 5, timeout_ms: 5000 },
    notify_on_failure: true,
  })

  const cloned = await app.inject({
    method: 'POST',
    url: `/v1/rules/${source.id}/clone`,
    headers: ws.auth,
  })
  t.equal(cloned.statusCode, 201)
  const clone = cloned.json<RuleView>()
  t.not(clone.id, source.id)
  t.equal(clone.title, 'Dialer - Clone')
  t.equal(clone.enabled, false, 'a clone starts disabled')
  for (const key of [
    'description',
    'event_types',
    'conditions',
    'request',
    'auth',
    'execution',
    'response',
    'notify_on_failure',
  ] as const) {
    t.same(clone[key], source[key], `same ${key}`)
  }

  const matched = await postEvent(app, ws, 'lead.updated', lead({ status: 'Qualified' }))
  t.same(matched.matched_rules, [source.id], 'a disabled clone is not triggered')

  const enabled = await app.inject({
    method: 'POST',
    url: `/v1/rules/${clone.id}/enable`,
    headers: ws.auth,
  })
  t.equal(enabled.json().enabled, true)
  const run = await app.inject({
    method: 'POST',
    url: `/v1/rules/${clone.id}/execute`,
    headers: ws.auth,
    payload: { record: lead({ status: 'Qualified' }, 'L-9'), mode: 'inline' },
  })
  t.equal(run.statusCode, 200, run.body)
  t.equal(run.json().delivery.status, 'succeeded')
  const sent = receiver.received.at(-1)
  t.equal(
    sent?.headers.authorization,
    `Basic ${Buffer.from('dialer:s3cret-pass').toString('base64')}`,
    'the clone sends with the same credentials',
  )
  t.same(JSON.parse(sent?.body ?? ''), { id: 'L-9' })

  const disabled = await app.inject({
    method: 'POST',
    url: `/v1/rules/${source.id}/disable`,
    headers: ws.auth,
  })
  t.equal(disabled.json().enabled, false)
  const afterDisable = await postEvent(app, ws, 'lead.updated', lead({ status: 'Qualified' }))
  t.same(afterDisable.matched_rules, [clone.id], 'a disabled rule is not triggered')

  const del = (id: string) =>
    app.inject({ method: 'DELETE', url: `/v1/rules/${id}`, headers: ws.auth })
  const whileEnabled = await del(clone.id)
  t.equal(whileEnabled.statusCode, 409)
  t.equal(whileEnabled.json().code, 'conflict')
  t.match(whileEnabled.json().message, /enabled/)

  const refs = await app.inject({
    method: 'PUT',
    url: `/v1/rules/${source.id}/references`,
    headers: ws.auth,
    payload: {
      references: [
        { reference: 'automation-88', name: 'New lead follow-up' },
        { reference: 'automation-90' },
      ],
    },
  })
  t.equal(refs.statusCode, 200)
  t.same(refs.json().references, [
    { reference: 'automation-88', name: 'New lead follow-up' },
    { reference: 'automation-90', name: '' },
  ])
  const whileUsed = await del(source.id)
  t.equal(whileUsed.statusCode, 409)
  t.match(whileUsed.json().message, /"New lead follow-up"/)
  t.match(whileUsed.json().message, /"automation-90"/)
  t.notMatch(whileUsed.json().message, /enabled/, 'names only the reasons that hold')
  t.equal((await app.inject({ url: `/v1/rules/${source.id}`, headers: ws.auth })).statusCode, 200)

  await app.inject({
    method: 'PUT',
    url: `/v1/rules/${source.id}/references`,
    headers: ws.auth,
    payload: { references: [] },
  })
  const handler = await app.inject({
    method: 'POST',
    url: '/v1/handlers',
    headers: ws.auth,
    payload: {
      title: 'Website form',
      parameters: [{ name: 'email', type: 'email', required: true }],
      actions: [{ type: 'run_rule', rule_id: source.id }],
    },
  })
  t.equal(handler.statusCode, 201, handler.body)
  const whileRun = await del(source.id)
  t.equal(whileRun.statusCode, 409, 'an inbound handler that runs the rule keeps it')
  t.match(whileRun.json().message, `inbound handler "Website form" (${handler.json().id})`)
  const detached = await app.inject({
    method: 'PATCH',
    url: `/v1/handlers/${handler.json().id}`,
    headers: ws.auth,
    payload: { actions: [] },
  })
  t.equal(detached.statusCode, 200, detached.body)
  t.equal((await del(source.id)).statusCode, 204, 'disabled and unused: deleted')
  t.equal((await app.inject({ url: `/v1/rules/${source.id}`, headers: ws.auth })).statusCode, 404)
  t.equal((await del(source.id)).statusCode, 404)

  const patched = await app.inject({
    method: 'PATCH',
    url: `/v1/rules/${clone.id}`,
    headers: ws.auth,
    payload: { title: 'Renamed', execution: { max_attempts: 2 } },
  })
  t.equal(patched.statusCode, 200)
  t.equal(patched.json().title, 'Renamed')
  t.equal(patched.json().execution.max_attempts, 2)
  t.equal(patched.json().execution.timeout_ms, 15000, 'execution is replaced whole')
  t.same(patched.json().auth, source.auth, 'credentials stay when auth is not sent')
})

t.test('clone refuses unknown properties and is credited to whoever cloned it', async (t) => {
  const { app } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  const source = await createRule(app, ws, {
    title: 'Authored',
    created_by: { id: 'u-1', name: 'Original Author' },
    request: { method: 'POST', url: `${receiver.url}/a`, body_format: 'json' },
  })
  const clone = (payload?: unknown) =>
    app.inject({
      method: 'POST',
      url: `/v1/rules/${source.id}/clone`,
      headers: ws.auth,
      ...(payload !== undefined && { payload: payload as object }),
    })

  const bogus = await clone({ bogus: 1 })
  t.equal(bogus.statusCode, 400, bogus.body)
  t.equal(bogus.json().code, 'validation_failed')
  t.match(bogus.json().message, /bogus/)

  const byBob = await clone({ created_by: { id: 'u-2', name: 'Bob Cloner' } })
  t.equal(byBob.statusCode, 201, byBob.body)
  t.same(byBob.json().created_by, { id: 'u-2', name: 'Bob Cloner' }, 'credited to the cloner')

  const anonymous = await clone()
  t.equal(anonymous.statusCode, 201, anonymous.body)
  t.equal(anonymous.json().created_by, null, 'not credited to the original author')
  const empty = await clone({})
  t.equal(empty.statusCode, 201, empty.body)
  t.equal(empty.json().created_by, null)
  const got = await app.inject({ url: `/v1/rules/${source.id}`, headers: ws.auth })
  t.same(got.json().created_by, { id: 'u-1', name: 'Original Author' }, 'the source is unchanged')
})
