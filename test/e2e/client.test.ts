import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import t from 'tap'
import { createHooklineClient } from '../../openapi/client/index.js'
import { build, OPERATOR_TOKEN, startWorkers } from '../helpers/app.js'
import { eventually, startReceiver } from '../helpers/receiver.js'

/**
 * The main journeys against a listening server, only through the generated
 * client: every path, parameter and body below is checked by the compiler
 * against openapi/openapi.json.
 */
t.test('operator, outbound and inbound journeys through the generated client', async (t) => {
  const testApp = await build(t)
  await startWorkers(t, testApp)
  await testApp.app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(testApp.app.server.address() as AddressInfo).port}`
  const receiver = await startReceiver(t)
  const crm = await startReceiver(t)

  // The operator creates a workspace and issues it a key.
  const operator = createHooklineClient(baseUrl, OPERATOR_TOKEN)
  const workspace = await operator.POST('/operator/workspaces', { body: { name: 'Acme' } })
  t.equal(workspace.response.status, 201)
  const workspaceId = workspace.data!.id
  const issued = await operator.POST('/operator/workspaces/{workspaceId}/api-keys', {
    params: { path: { workspaceId } },
    body: { name: 'crm' },
  })
  t.equal(issued.response.status, 201)
  const hookline = createHooklineClient(baseUrl, issued.data!.key)

  const me = await hookline.GET('/v1/workspace')
  t.equal(me.data?.id, workspaceId, 'the key acts for its workspace')
  const unauthorized = await createHooklineClient(baseUrl, 'hl_nope').GET('/v1/workspace')
  t.equal(unauthorized.response.status, 401)
  t.equal(unauthorized.error?.code, 'unauthorized', 'errors are typed too')

  // Outbound: a rule to a test receiver, an event, a delivery that succeeds.
  const settings = await hookline.PATCH('/v1/settings', {
    body: { crm_callback_url: `${crm.url}/notices` },
  })
  t.equal(settings.response.status, 200)
  const rule = await hookline.POST('/v1/rules', {
    body: {
      title: 'New leads',
      event_types: ['lead.created'],
      request: { method: 'POST', url: `${receiver.url}/hooks/leads`, body_format: 'json' },
    },
  })
  t.equal(rule.response.status, 201)
  const event = await hookline.POST('/v1/events', {
    body: {
      type: 'lead.created',
      record: { entity_type: 'lead', entity_id: 'L-1', fields: { lead: { name: 'Ada' } } },
    },
  })
  t.equal(event.response.status, 202)
  t.same(event.data?.matched_rules, [rule.data!.id])
  const deliveryId = event.data!.deliveries[0]!
  const delivery = await eventually(async () => {
    const { data } = await hookline.GET('/v1/deliveries/{deliveryId}', {
      params: { path: { deliveryId } },
    })
    return data?.status === 'succeeded' ? data : undefined
  })
  t.equal(delivery.response_status, 200)
  t.equal(delivery.attempt_history.length, 1)
  t.equal(receiver.received.length, 1)
  t.equal(receiver.received[0]!.url, '/hooks/leads')
  const secret = await hookline.GET('/v1/settings/signing-secret')
  const got = receiver.received[0]!
  t.ok(
    new Webhook(secret.data!.secret).verify(got.body, {
      'webhook-id': String(got.headers['webhook-id']),
      'webhook-timestamp': String(got.headers['webhook-timestamp']),
      'webhook-signature': String(got.headers['webhook-signature']),
    }),
    'the receiver can verify the signature',
  )
  const history = await hookline.GET('/v1/deliveries', {
    params: { query: { rule_id: rule.data!.id, limit: 10 } },
  })
  t.same(
    history.data?.data.map((d) => d.id),
    [deliveryId],
  )

  // Inbound: a handler, a call to its public endpoint, the call log.
  const handler = await hookline.POST('/v1/handlers', {
    body: {
      title: 'Contact form',
      parameters: [{ name: 'email', type: 'email', required: true }],
      mapping: [{ source: 'email', target: 'lead.email' }],
    },
  })
  t.equal(handler.response.status, 201)
  const token = new URL(handler.data!.endpoint_url).pathname.replace(/^\/in\//, '')
  const call = await createHooklineClient(baseUrl, 'unused').POST('/in/{token}', {
    params: { path: { token } },
    // The spec leaves the body open (JSON, form, XML or multipart), so it has no type.
    body: { email: 'ada@example.com' } as never,
  })
  t.equal(call.response.status, 200)
  const callId = call.response.headers.get('x-hookline-call-id')
  t.ok(callId, 'the answer names the recorded call')

  const calls = await hookline.GET('/v1/handlers/{handlerId}/calls', {
    params: { path: { handlerId: handler.data!.id }, query: { limit: 50 } },
  })
  t.equal(calls.response.status, 200)
  t.same(
    calls.data?.data.map((c) => [c.id, c.outcome]),
    [[callId, 'accepted']],
  )
  const detail = await hookline.GET('/v1/calls/{callId}', {
    params: { path: { callId: callId! } },
  })
  t.equal(detail.data?.outcome, 'accepted')

  // The accepted call reaches the CRM as a signed notice.
  await crm.waitFor(1)
  t.match(JSON.parse(crm.received[0]!.body), {
    type: 'inbound.record',
    data: { call_id: callId, record: { lead: { email: 'ada@example.com' } } },
  })
})
