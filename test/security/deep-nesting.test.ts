// Deeply nested JSON on the management API: each answers 400 naming where
// the nesting went too deep, never a 500 from an overflowed stack, and
// changes nothing.
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { ruleBody } from '../helpers/outbound.js'
import { assertError, snapshot } from './helpers.js'

const url = 'https://receiver.example.com/hook'
const testApp = await build(t, { bodyLimitBytes: 4 * 1024 * 1024 })

/** `{"a":{"a":…{"a":1}}}`, `depth` objects deep. */
const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`

/** Condition groups nested `depth` deep, one test at the bottom. */
const nestedGroups = (depth: number) =>
  `${'{"all":['.repeat(depth)}{"field":"lead.status","op":"equals","value":"x"}${']}'.repeat(depth)}`

t.test('bodies nested past the limit answer 400 too_deep with the path', async (t) => {
  const { app, database } = testApp
  const ws = await createWorkspace(app)
  const before = await snapshot(database)
  const send = (method: 'POST' | 'PUT', path: string, payload: string) =>
    app.inject({
      method,
      url: path,
      headers: { ...ws.auth, 'content-type': 'application/json' },
      payload,
    })
  const record = (fields: string, previous = '{}') =>
    `{"type":"lead.created","record":{"entity_type":"lead","entity_id":"1","fields":${fields},"previous_fields":${previous}}}`
  const cases: [string, 'POST' | 'PUT', string, string][] = [
    ['record.fields 5,000 deep', 'POST', '/v1/events', record(nested(5000))],
    ['previous_fields 10,000 deep', 'POST', '/v1/events', record('{}', nested(10_000))],
    [
      'an event type sample 10,000 deep',
      'PUT',
      '/v1/event-types/lead.created',
      `{"description":"x","sample":${nested(10_000)}}`,
    ],
    [
      '1,000 condition groups, nested',
      'POST',
      '/v1/rules',
      JSON.stringify(ruleBody(url)).replace(/}$/, `,"conditions":${nestedGroups(1000)}}`),
    ],
  ]
  for (const [what, method, path, body] of cases) {
    const res = await send(method, path, body)
    assertError(t, res, 400, /nested deeper than \d+ levels/, what)
    t.equal(res.json().code, 'too_deep', what)
    t.match(res.json().message, /^body\.[a-z_]+(\.[a-z_]+)*\.a|^body\.conditions\.all\[0\]/, what)
  }
  t.same(await snapshot(database), before, 'nothing changed')
})

t.test('1,000 condition groups side by side are refused with a reason', async (t) => {
  const { app } = testApp
  const ws = await createWorkspace(app)
  const group = '{"all":[{"field":"lead.status","op":"equals","value":"x"}]}'
  const res = await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: { ...ws.auth, 'content-type': 'application/json' },
    payload: JSON.stringify(ruleBody(url)).replace(
      /}$/,
      `,"conditions":{"any":[${Array(1000).fill(group).join(',')}]}}`,
    ),
  })
  assertError(t, res, 400, /conditions/, '1,000 groups side by side')
})

t.test('nesting within the limit is accepted', async (t) => {
  const { app } = testApp
  const ws = await createWorkspace(app)
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: ws.auth,
    payload: {
      type: 'lead.created',
      record: { entity_type: 'lead', entity_id: '1', fields: JSON.parse(nested(40)) },
    },
  })
  t.equal(res.statusCode, 202, res.body)
})
