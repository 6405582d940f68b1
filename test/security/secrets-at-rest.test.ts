// Secrets at rest: after keys are issued, rules saved with each kind of
// credential, signing secrets rotated, handlers saved with each kind of
// verification secret, and real traffic both ways, no text, bytea or json
// column of any table holds a secret or an API key in the clear.
import { isUtf8 } from 'node:buffer'
import t from 'tap'
import {
  build,
  createWorkspace,
  operator,
  startWorkers,
  TEST_ENCRYPTION_KEY,
} from '../helpers/app.js'
import type { TestDatabase } from '../helpers/database.js'
import {
  createRule,
  lead,
  postEvent,
  ruleBody,
  settled,
  signingSecret,
} from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

interface Needle {
  what: string
  bytes: Buffer
}

const needle = (what: string, text: string | Buffer): Needle => ({
  what,
  bytes: typeof text === 'string' ? Buffer.from(text, 'utf8') : text,
})

/** Every column that can hold text: its table, name and whether it is bytea. */
async function textColumns(database: TestDatabase) {
  const { rows } = await database.pool.query<{ table: string; column: string; type: string }>(
    `select c.table_name as table, c.column_name as column, c.data_type as type
    from information_schema.columns c
    join information_schema.tables t on t.table_name = c.table_name and t.table_schema = c.table_schema
    where c.table_schema = 'public' and t.table_type = 'BASE TABLE'
      and c.data_type in ('text', 'character varying', 'bytea', 'jsonb', 'json', 'ARRAY')
    order by 1, 2`,
  )
  return rows
}

/**
 * For each needle, where in the database its bytes occur (`table.column`):
 * one query per column for all needles at once.
 */
async function findAll(database: TestDatabase, needles: Needle[]): Promise<string[][]> {
  const hits: string[][] = needles.map(() => [])
  const bytes = needles.map((n) => n.bytes)
  // Raw key bytes that are not UTF-8 can only sit in a bytea column.
  const texts = needles.map((n) => (isUtf8(n.bytes) ? n.bytes.toString('utf8') : null))
  for (const { table, column, type } of await textColumns(database)) {
    const { rows } = await database.pool.query<{ i: number }>(
      type === 'bytea'
        ? `select (n.i - 1)::int as i from unnest($1::bytea[]) with ordinality as n(b, i)
          where exists (select 1 from "${table}" x where position(n.b in x."${column}") > 0)`
        : `select (n.i - 1)::int as i from unnest($1::text[]) with ordinality as n(b, i)
          where n.b is not null
            and exists (select 1 from "${table}" x where position(n.b in x."${column}"::text) > 0)`,
      [type === 'bytea' ? bytes : texts],
    )
    for (const { i } of rows) hits[i]!.push(`${table}.${column}`)
  }
  return hits
}

const findAnywhere = async (database: TestDatabase, found: Needle) =>
  (await findAll(database, [found]))[0]!

t.test('the database holds no secret and no API key in the clear', async (t) => {
  const testApp = await build(t)
  const { app, database } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const needles: Needle[] = [
    needle('ENCRYPTION_KEY (base64)', TEST_ENCRYPTION_KEY.toString('base64')),
    needle('ENCRYPTION_KEY (bytes)', TEST_ENCRYPTION_KEY),
  ]
  const ws = await createWorkspace(app)
  const other = await createWorkspace(app, 'Other')

  // API keys: the first ones, and more issued later.
  for (const key of [ws, other]) {
    needles.push(needle('API key', key.key), needle('API key secret part', key.key.slice(12)))
  }
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({
      method: 'POST',
      url: `/operator/workspaces/${ws.id}/api-keys`,
      headers: operator,
      payload: { name: `k${i}` },
    })
    needles.push(needle('API key', res.json().key))
  }

  // Signing secrets: the first, then two rotations (the old ones stay active).
  for (let i = 0; i < 3; i++) {
    const secret = await signingSecret(app, ws)
    needles.push(needle('signing secret', secret), needle('signing key', secret.slice(6)))
    needles.push(needle('signing key (bytes)', Buffer.from(secret.slice(6), 'base64')))
    await app.inject({
      method: 'POST',
      url: '/v1/settings/signing-secret/rotate',
      headers: ws.auth,
      payload: { overlap_seconds: 3600 },
    })
  }

  // Rule credentials of every kind, sent for real.
  const creds = {
    basic: { type: 'basic', username: 'rule-user', password: 'basic-PASSWORD-4711' },
    bearer: { type: 'bearer', token: 'bearer-TOKEN-0815' },
    header: { type: 'header', name: 'X-Api-Key', value: 'header-VALUE-4242' },
  } as const
  needles.push(
    needle('basic password', creds.basic.password),
    needle('basic credentials', Buffer.from('rule-user:basic-PASSWORD-4711').toString('base64')),
    needle('bearer token', creds.bearer.token),
    needle('header value', creds.header.value),
  )
  for (const auth of Object.values(creds)) {
    await createRule(app, ws, ruleBody(`${receiver.url}/${auth.type}`, { auth }))
  }
  // An update replaces a credential: the old one must not linger either.
  const updated = await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/updated`, { auth: { type: 'bearer', token: 'OLD-token-1234' } }),
  )
  await app.inject({
    method: 'PATCH',
    url: `/v1/rules/${updated.id}`,
    headers: ws.auth,
    payload: { auth: { type: 'bearer', token: 'NEW-token-5678' } },
  })
  needles.push(needle('replaced token', 'OLD-token-1234'), needle('token', 'NEW-token-5678'))
  const answer = await postEvent(app, ws, 'lead.created', lead({ email: 'a@example.com' }))
  for (const id of answer.deliveries) await settled(app, ws, id, 'succeeded')
  t.equal(receiver.received.length, 4, 'sent with their credentials')
  t.ok(
    receiver.received.some((r) => r.headers.authorization === 'Bearer bearer-TOKEN-0815'),
    'the receiver got the token',
  )

  // Handler verification secrets of every kind, and calls that carry them.
  const verifications: {
    type: string
    secret?: string
    password?: string
    [k: string]: unknown
  }[] = [
    { type: 'secret_header', header: 'X-Form-Token', secret: 'inbound-HEADER-SECRET-1' },
    { type: 'secret_query', param: 'key', secret: 'inbound-QUERY-SECRET-2' },
    { type: 'basic', username: 'sender', password: 'inbound-BASIC-PASSWORD-3' },
    {
      type: 'hmac',
      header: 'X-Sig',
      algorithm: 'sha256',
      encoding: 'hex',
      secret: 'inbound-HMAC-KEY-4',
    },
    { type: 'stripe', secret: 'whsec_inboundSTRIPE5' },
    { type: 'standard_webhooks', secret: 'whsec_aW5ib3VuZC1TVEFOREFSRC02' },
  ]
  const handlersExist =
    (await app.inject({ url: '/v1/handlers', headers: ws.auth })).statusCode === 200
  if (handlersExist) {
    for (const verification of verifications) {
      const secret = (verification.secret ?? verification.password) as string
      needles.push(needle(`handler ${verification.type} secret`, secret))
      const res = await app.inject({
        method: 'POST',
        url: '/v1/handlers',
        headers: ws.auth,
        payload: { title: verification.type, body_format: 'form', verification },
      })
      t.equal(res.statusCode, 201, `handler with ${verification.type}`, { body: res.body })
      t.notMatch(res.body, secret, 'the secret is not echoed')
      const endpoint = new URL(res.json().endpoint_url)
      const token = endpoint.pathname.split('/').pop() as string
      needles.push(needle('endpoint token', token))
      const headers: Record<string, string> = {
        'content-type': 'application/x-www-form-urlencoded',
      }
      let path = endpoint.pathname
      if (verification.type === 'secret_header') headers['x-form-token'] = secret
      if (verification.type === 'secret_query') path += `?key=${secret}`
      if (verification.type === 'basic') {
        headers.authorization = `Basic ${Buffer.from(`sender:${secret}`).toString('base64')}`
        needles.push(needle('sender basic credentials', headers.authorization.slice(6)))
      }
      const call = await app.inject({ method: 'POST', url: path, headers, payload: 'a=1' })
      t.ok(call.statusCode < 500, `a call to the ${verification.type} handler (${call.statusCode})`)
    }
    // A rotated token must not linger either.
    const list = await app.inject({ url: '/v1/handlers', headers: ws.auth })
    const first = list.json().data[0]
    const rotated = await app.inject({
      method: 'POST',
      url: `/v1/handlers/${first.id}/rotate-token`,
      headers: ws.auth,
    })
    t.ok(rotated.statusCode < 300, 'token rotated')
    needles.push(
      needle(
        'rotated endpoint token',
        new URL(rotated.json().endpoint_url).pathname.split('/').pop() as string,
      ),
    )
  }
  t.comment(`inbound handlers ${handlersExist ? 'present: their secrets checked' : 'absent'}`)

  // The control: what is stored in the clear on purpose is found, in text, json and bytea alike
  // (a rule's public auth part, and its copy in the rule version history renders from).
  t.same(await findAnywhere(database, needle('a basic username', 'rule-user')), [
    'rule_versions.auth_public',
    'rules.auth_public',
  ])
  t.ok(
    (await findAnywhere(database, needle('an event field', 'a@example.com'))).includes(
      'events.fields',
    ),
  )
  const columns = await textColumns(database)
  t.ok(columns.length > 20, `${columns.length} text, bytea and json columns searched`)
  const found = await findAll(database, needles)
  for (const [i, n] of needles.entries()) {
    t.same(found[i], [], `${n.what}: nowhere in the clear`)
  }
})
