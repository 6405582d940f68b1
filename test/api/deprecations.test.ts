import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { createHooklineClient, type HooklineClient } from '../../openapi/client/index.js'
import { build, createWorkspace, OPERATOR_TOKEN } from '../helpers/app.js'

// README, Conventions: a renamed form stays served until the Sunset date, and each answer that
// uses it says so with RFC 9745's Deprecation and RFC 8594's Sunset headers.
const DEPRECATION = '@1796428800' // 2026-12-05
const SUNSET = 'Mon, 06 Dec 2027 00:00:00 GMT'

async function listening(t: Test) {
  const testApp = await build(t)
  await testApp.app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(testApp.app.server.address() as AddressInfo).port}`
  const ws = await createWorkspace(testApp.app)
  return { ...testApp, baseUrl, ws, client: createHooklineClient(baseUrl, ws.key) }
}

function deprecated(t: Test, response: Response, what: string) {
  t.equal(response.headers.get('deprecation'), DEPRECATION, `${what}: Deprecation`)
  t.equal(response.headers.get('sunset'), SUNSET, `${what}: Sunset`)
}

function current(t: Test, response: Response, what: string) {
  t.equal(response.headers.get('deprecation'), null, `${what}: no Deprecation`)
}

const rule = (title: string) => ({
  title,
  event_types: ['lead.created'],
  request: {
    method: 'POST' as const,
    url: 'https://crm-hooks.example.com/leads',
    body_format: 'json' as const,
  },
})

t.test(
  'on/off is `enabled` on rules and handlers; `status` and `active` stay as aliases',
  async (t) => {
    const { client } = await listening(t)

    // Handlers: `enabled` in and out; `active` still read and written.
    const off = await client.POST('/v1/handlers', { body: { title: 'Form', enabled: false } })
    t.equal(off.response.status, 201)
    t.equal(off.data?.enabled, false)
    t.equal(off.data?.active, false, 'the alias is still sent')
    deprecated(t, off.response, 'a handler (it holds `active`)')
    const on = await client.POST('/v1/handlers', { body: { title: 'Site', active: true } })
    t.equal(on.data?.enabled, true, 'the alias is still read')
    const both = await client.POST('/v1/handlers', {
      body: { title: 'Both', enabled: true, active: false },
    })
    t.equal(both.response.status, 400)
    t.equal(both.error?.errors?.[0]?.path, 'body/active')
    const patched = await client.PATCH('/v1/handlers/{handlerId}', {
      params: { path: { handlerId: on.data!.id } },
      body: { enabled: false },
    })
    t.equal(patched.data?.enabled, false)
    const disabled = await client.GET('/v1/handlers', { params: { query: { enabled: false } } })
    t.equal(disabled.data?.data.length, 2)
    const disabledOld = await client.GET('/v1/handlers', { params: { query: { active: false } } })
    t.equal(disabledOld.data?.data.length, 2)
    const enabledNow = await client.POST('/v1/handlers/{handlerId}/enable', {
      params: { path: { handlerId: on.data!.id } },
    })
    t.equal(enabledNow.data?.enabled, true)

    // Rules: the list filters on `enabled`; `status=enabled|disabled` and `sort=status` stay.
    const a = await client.POST('/v1/rules', { body: rule('A') })
    await client.POST('/v1/rules', { body: rule('B') })
    await client.POST('/v1/rules/{ruleId}/disable', { params: { path: { ruleId: a.data!.id } } })
    const byEnabled = await client.GET('/v1/rules', { params: { query: { enabled: false } } })
    t.same(
      byEnabled.data?.data.map((r) => r.title),
      ['A'],
    )
    current(t, byEnabled.response, 'the rule list filtered by `enabled`')
    const byStatus = await client.GET('/v1/rules', { params: { query: { status: 'disabled' } } })
    t.same(
      byStatus.data?.data.map((r) => r.title),
      ['A'],
    )
    deprecated(t, byStatus.response, 'the rule list filtered by `status`')
    const sorted = await client.GET('/v1/rules', { params: { query: { sort: 'enabled' } } })
    t.same(
      sorted.data?.data.map((r) => r.title),
      ['A', 'B'],
      'disabled first',
    )
    current(t, sorted.response, 'sort=enabled')
    const sortedOld = await client.GET('/v1/rules', { params: { query: { sort: '-status' } } })
    t.same(
      sortedOld.data?.data.map((r) => r.title),
      ['B', 'A'],
    )
    deprecated(t, sortedOld.response, 'sort=-status')
    const clash = await client.GET('/v1/rules', {
      params: { query: { enabled: true, status: 'enabled' } },
    })
    t.equal(clash.response.status, 400, 'a name and its alias together')
  },
)

t.test('a delivery counts its attempts as `attempt_count`; `attempts` stays', async (t) => {
  const { client } = await listening(t)
  await client.POST('/v1/rules', { body: rule('Leads') })
  const event = await client.POST('/v1/events', {
    body: {
      type: 'lead.created',
      record: { entity_type: 'lead', entity_id: 'L-1', fields: { lead: { name: 'Ada' } } },
    },
  })
  const delivery = await client.GET('/v1/deliveries/{deliveryId}', {
    params: { path: { deliveryId: event.data!.deliveries[0]! } },
  })
  t.equal(delivery.data?.attempt_count, 0)
  t.equal(delivery.data?.attempts, 0)
  t.same(delivery.data?.attempt_history, [])
  deprecated(t, delivery.response, 'a delivery (it holds `attempts` and `status_label`)')
})

t.test('revoking a key: 204 with Prefer: return=minimal, else the deprecated 200', async (t) => {
  const { baseUrl, ws } = await listening(t)
  const operator: HooklineClient = createHooklineClient(baseUrl, OPERATOR_TOKEN)
  const issue = async () =>
    (
      await operator.POST('/operator/workspaces/{workspaceId}/api-keys', {
        params: { path: { workspaceId: ws.id } },
        body: { name: 'crm' },
      })
    ).data!.id

  const minimal = await operator.DELETE('/operator/workspaces/{workspaceId}/api-keys/{keyId}', {
    params: {
      path: { workspaceId: ws.id, keyId: await issue() },
      header: { prefer: 'return=minimal' },
    },
  })
  t.equal(minimal.response.status, 204)
  t.equal(minimal.response.headers.get('preference-applied'), 'return=minimal')
  t.equal(await minimal.response.text(), '', 'no body')
  current(t, minimal.response, 'the 204')

  const old = await operator.DELETE('/operator/workspaces/{workspaceId}/api-keys/{keyId}', {
    params: { path: { workspaceId: ws.id, keyId: await issue() } },
  })
  t.equal(old.response.status, 200, 'unchanged for clients that do not ask')
  t.ok(old.data?.revoked_at)
  deprecated(t, old.response, 'the 200 with a body')
})

t.test('the OpenAPI document says which forms are deprecated', async (t) => {
  const { app } = await build(t)
  await app.ready()
  const doc = app.swagger() as {
    paths: Record<string, Record<string, { parameters?: { name: string; deprecated?: boolean }[] }>>
    components: {
      schemas: Record<string, { properties: Record<string, { deprecated?: boolean }> }>
    }
  }
  const { schemas } = doc.components
  t.equal(schemas.Handler?.properties.active?.deprecated, true)
  t.equal(schemas.Handler?.properties.enabled?.deprecated, undefined)
  t.equal(schemas.Delivery?.properties.attempts?.deprecated, true)
  t.equal(schemas.Delivery?.properties.status_label?.deprecated, true)
  const ruleList = doc.paths['/v1/rules']?.get?.parameters ?? []
  t.equal(ruleList.find((p) => p.name === 'status')?.deprecated, true)
  t.notOk(ruleList.find((p) => p.name === 'enabled')?.deprecated)
})
