import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { createHooklineClient } from '../../openapi/client/index.js'
import { build, createWorkspace, OPERATOR_TOKEN } from '../helpers/app.js'

// README, Conventions: every PATCH takes an RFC 7396 merge patch; nested objects merge member by
// member and `null` removes a member. Checked through the generated client for each resource.
const MERGE = { 'content-type': 'application/merge-patch+json' }

async function listening(t: Test) {
  const testApp = await build(t)
  await testApp.app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(testApp.app.server.address() as AddressInfo).port}`
  const ws = await createWorkspace(testApp.app)
  return { baseUrl, ws, client: createHooklineClient(baseUrl, ws.key) }
}

t.test('a handler’s response and protection merge; the old JSON PATCH is deprecated', async (t) => {
  const { client } = await listening(t)
  const created = await client.POST('/v1/handlers', {
    body: {
      title: 'Form',
      parameters: [{ name: 'email', type: 'email', required: true }],
      response: { status: 202, content_type: 'text/plain' },
      protection: { period_seconds: 60 },
    },
  })
  t.equal(created.response.status, 201, JSON.stringify(created.error))
  const handlerId = created.data!.id
  const path = { params: { path: { handlerId } } }

  // The reported bug: sending only body_template turned a 202 (or 204) into a 200.
  const merged = await client.PATCH('/v1/handlers/{handlerId}', {
    ...path,
    headers: MERGE,
    body: { response: { body_template: 'thanks' }, protection: { parameters: ['email'] } },
  })
  t.equal(merged.response.status, 200, JSON.stringify(merged.error))
  t.same(merged.data?.response, {
    status: 202,
    content_type: 'text/plain',
    headers: [],
    body_template: 'thanks',
  })
  t.same(merged.data?.protection, { period_seconds: 60, parameters: ['email'] })

  const removed = await client.PATCH('/v1/handlers/{handlerId}', {
    ...path,
    headers: MERGE,
    body: { response: { body_template: null, content_type: null } },
  })
  t.same(
    removed.data?.response,
    { status: 202, content_type: 'application/json', headers: [], body_template: null },
    'null removes a member, which takes its default',
  )

  // application/json keeps its older rule for the window, and says it is deprecated.
  const old = await client.PATCH('/v1/handlers/{handlerId}', {
    ...path,
    body: { response: { body_template: 'thanks' } },
  })
  t.equal(old.data?.response.status, 200, 'unchanged for existing clients')
  t.equal(old.response.headers.get('deprecation'), '@1796428800')
  t.ok(old.response.headers.get('sunset'))
})

t.test('a rule’s request, execution and response merge', async (t) => {
  const { client } = await listening(t)
  const created = await client.POST('/v1/rules', {
    body: {
      title: 'Leads',
      event_types: ['lead.created'],
      request: {
        method: 'POST',
        url: 'https://crm-hooks.example.com/leads',
        body_format: 'json',
        headers: [{ name: 'X-Source', value: 'hookline' }],
      },
      execution: { max_attempts: 5, timeout_ms: 5000 },
    },
  })
  t.equal(created.response.status, 201, JSON.stringify(created.error))
  const path = { params: { path: { ruleId: created.data!.id } } }

  const merged = await client.PATCH('/v1/rules/{ruleId}', {
    ...path,
    headers: MERGE,
    body: {
      title: 'Leads v2',
      request: { url: 'https://crm-hooks.example.com/v2/leads' },
      execution: { delay_seconds: 30 },
    },
  })
  t.equal(merged.response.status, 200, JSON.stringify(merged.error))
  t.equal(merged.data?.title, 'Leads v2')
  t.match(merged.data?.request, {
    method: 'POST',
    url: 'https://crm-hooks.example.com/v2/leads',
    body_format: 'json',
    headers: [{ name: 'X-Source', value: 'hookline' }],
  })
  t.match(merged.data?.execution, { max_attempts: 5, timeout_ms: 5000, delay_seconds: 30 })
  t.equal(merged.response.headers.get('deprecation'), null, 'the merge patch is the current rule')

  const removed = await client.PATCH('/v1/rules/{ruleId}', {
    ...path,
    headers: MERGE,
    body: { execution: { max_attempts: null } },
  })
  t.match(removed.data?.execution, { max_attempts: 3, timeout_ms: 5000 }, 'back to its default')

  const required = await client.PATCH('/v1/rules/{ruleId}', {
    ...path,
    headers: MERGE,
    body: { request: { url: null } },
  })
  t.equal(required.response.status, 400, 'a required member cannot be removed')
  t.match(required.error?.message, /request/)

  const missing = await client.PATCH('/v1/rules/{ruleId}', {
    params: { path: { ruleId: 'rul_0000000000000000000000000' } },
    headers: MERGE,
    body: { request: { url: 'https://crm-hooks.example.com/x' } },
  })
  t.equal(missing.response.status, 404)
})

t.test('settings and workspaces take the merge patch too; other methods do not', async (t) => {
  const { client, baseUrl, ws } = await listening(t)
  const set = await client.PATCH('/v1/settings', {
    headers: MERGE,
    body: { crm_callback_url: 'https://crm.example.com/notices', retention_days: 30 },
  })
  t.equal(set.response.status, 200, JSON.stringify(set.error))
  const cleared = await client.PATCH('/v1/settings', {
    headers: MERGE,
    body: { crm_callback_url: null },
  })
  t.equal(cleared.data?.crm_callback_url, null)
  t.equal(cleared.data?.retention_days, 30)

  const operator = createHooklineClient(baseUrl, OPERATOR_TOKEN)
  const renamed = await operator.PATCH('/operator/workspaces/{workspaceId}', {
    params: { path: { workspaceId: ws.id } },
    headers: MERGE,
    body: { name: 'Acme Ltd' },
  })
  t.equal(renamed.data?.name, 'Acme Ltd')

  const post = await fetch(`${baseUrl}/v1/rules`, {
    method: 'POST',
    headers: { ...MERGE, authorization: `Bearer ${ws.key}` },
    body: '{"title":"x"}',
  })
  t.equal(post.status, 415, 'a merge patch is for PATCH only')
})
