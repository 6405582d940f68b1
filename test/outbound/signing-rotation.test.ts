import { createHmac } from 'node:crypto'
import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import {
  createRule,
  lead,
  postEvent,
  ruleBody,
  settled,
  signingSecret,
  verifyStandardWebhook,
} from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

// One app and database for the file; each test has its own workspace, receivers and workers.
const testApp = await build(t)

const hex = (secret: string, body: string) =>
  createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
    .update(body)
    .digest('hex')

t.test('rotation: two signatures during the overlap, both secrets verify', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await createRule(app, ws, ruleBody(`${receiver.url}/x`))

  const before = await signingSecret(app, ws)
  t.match(before, /^whsec_/)
  t.equal(await signingSecret(app, ws), before, 'showing the secret does not change it')
  const first = await postEvent(app, ws, 'lead.created', lead({}, 'L-1'))
  await settled(app, ws, first.deliveries[0] as string, 'succeeded')
  const one = receiver.received[0]!
  t.equal(String(one.headers['webhook-signature']).split(' ').length, 1, 'one signature')

  const rotated = await app.inject({
    method: 'POST',
    url: '/v1/settings/signing-secret/rotate',
    headers: ws.auth,
    payload: { overlap_seconds: 3600 },
  })
  t.equal(rotated.statusCode, 200, rotated.body)
  const after = rotated.json().secret as string
  t.not(after, before)
  t.equal(rotated.json().expires_at, null)
  t.equal(await signingSecret(app, ws), after, 'the new secret is the current one')
  const settings = (await app.inject({ url: '/v1/settings', headers: ws.auth })).json()
  t.equal(settings.signing_secrets.length, 2)
  t.equal(settings.signing_secrets[0].expires_at, null, 'current first')
  t.ok(settings.signing_secrets[1].expires_at, 'the old one expires')
  t.notOk(JSON.stringify(settings).includes(before.slice(6)), 'settings never show secrets')

  const second = await postEvent(app, ws, 'lead.created', lead({}, 'L-2'))
  await settled(app, ws, second.deliveries[0] as string, 'succeeded')
  const two = receiver.received[1]!
  const signatures = String(two.headers['webhook-signature']).split(' ')
  t.equal(signatures.length, 2, 'two signatures')
  t.ok(
    signatures.every((s) => s.startsWith('v1,')),
    'each a v1 signature',
  )
  t.ok(verifyStandardWebhook(after, two), 'the new secret verifies')
  t.ok(verifyStandardWebhook(before, two), 'the old secret verifies')
  t.throws(() => verifyStandardWebhook(`whsec_${Buffer.alloc(24, 1).toString('base64')}`, two))
  t.equal(
    two.headers['x-hookline-signature'],
    `sha256=${hex(after, two.body)} sha256=${hex(before, two.body)}`,
    'the simple signature too: one per secret, space-separated, the current first',
  )

  // With no overlap the old secret stops signing at once.
  await app.inject({
    method: 'POST',
    url: '/v1/settings/signing-secret/rotate',
    headers: ws.auth,
    payload: { overlap_seconds: 0 },
  })
  const latest = await signingSecret(app, ws)
  const third = await postEvent(app, ws, 'lead.created', lead({}, 'L-3'))
  await settled(app, ws, third.deliveries[0] as string, 'succeeded')
  const three = receiver.received[2]!
  t.ok(verifyStandardWebhook(latest, three))
  t.equal(
    String(three.headers['webhook-signature']).split(' ').length,
    2,
    'the secret from the first rotation is still in its overlap',
  )
  t.throws(
    () => verifyStandardWebhook(after, three),
    'the secret rotated out with no overlap no longer signs',
  )
  t.equal(
    three.headers['x-hookline-signature'],
    `sha256=${hex(latest, three.body)} sha256=${hex(before, three.body)}`,
    'the simple signature follows the same secrets',
  )
})

t.test("a new workspace's first sends, side by side, are signed with one secret", async (t) => {
  const { app } = testApp
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  // Never shown yet, so no secret exists until the first send needs one.
  for (const name of ['a', 'b', 'c']) {
    await createRule(app, ws, ruleBody(`${receiver.url}/${name}`, { title: name }))
  }
  const events = Array.from({ length: 5 }, (_, i) => ({
    type: 'lead.created',
    record: lead({}, `L-${i}`),
  }))
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events/batch',
    headers: ws.auth,
    payload: { events },
  })
  const ids: string[] = res.json().data.flatMap((e: { deliveries: string[] }) => e.deliveries)
  t.equal(ids.length, 15)
  await startWorkers(t, testApp)
  for (const id of ids) await settled(app, ws, id, 'succeeded')

  const settings = (await app.inject({ url: '/v1/settings', headers: ws.auth })).json()
  t.equal(settings.signing_secrets.length, 1, 'one secret')
  const secret = await signingSecret(app, ws)
  t.ok(
    receiver.received.every((r) => {
      try {
        return Boolean(verifyStandardWebhook(secret, r))
      } catch {
        return false
      }
    }),
    'every request verifies with the secret shown afterwards',
  )
})

t.test('rotations at the same moment leave exactly one current secret', async (t) => {
  const { app } = testApp
  const ws = await createWorkspace(app)
  await signingSecret(app, ws)
  const rotations = await Promise.all(
    Array.from({ length: 8 }, () =>
      app.inject({
        method: 'POST',
        url: '/v1/settings/signing-secret/rotate',
        headers: ws.auth,
        payload: { overlap_seconds: 3600 },
      }),
    ),
  )
  t.same(
    rotations.map((r) => r.statusCode),
    Array(8).fill(200),
  )
  const settings = (await app.inject({ url: '/v1/settings', headers: ws.auth })).json()
  const current = settings.signing_secrets.filter(
    (s: { expires_at: string | null }) => s.expires_at === null,
  )
  t.equal(current.length, 1, 'one current secret')
  t.equal(settings.signing_secrets.length, 9, 'the first and each rotation’s, the older in overlap')
})
