import { createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import type { Test } from 'tap'
import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import {
  createRule,
  lead,
  postEvent,
  ruleBody,
  settled,
  signingSecret,
} from '../helpers/outbound.js'

/**
 * The receiver from the README's "Verifying Hookline's signatures", line for
 * line, listening on 127.0.0.1:0 instead of 8080 and noting each verdict.
 */
async function startReadmeReceiver(t: Test, secret: string) {
  const verdicts: {
    status: number
    method: string
    url: string
    body: string
    headers: Record<string, string>
  }[] = []

  // The workspace's signing secret (whsec_…): GET /v1/settings/signing-secret.
  const webhook = new Webhook(secret)

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      // The raw body as received: a re-serialized parse of it would not verify.
      const body = Buffer.concat(chunks).toString('utf8')
      const headers = {
        'webhook-id': String(req.headers['webhook-id']),
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      }
      // GET and DELETE send no body: what they sign is the path and query as sent.
      const signed = req.method === 'GET' || req.method === 'DELETE' ? String(req.url) : body
      try {
        // Rule bodies may be form, XML or text too: verify the bytes, parse them yourself.
        webhook.verify(signed, headers, { jsonParse: false })
      } catch {
        verdicts.push({
          status: 401,
          method: String(req.method),
          url: String(req.url),
          body,
          headers,
        })
        res.writeHead(401).end() // forged, altered, or more than 5 minutes old
        return
      }
      // webhook-id is the delivery id, the same on every retry: use it to drop duplicates.
      verdicts.push({
        status: 204,
        method: String(req.method),
        url: String(req.url),
        body,
        headers,
      })
      res.writeHead(204).end()
    })
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, verdicts }
}

t.test('a receiver using standardwebhooks accepts what Hookline signs', async (t) => {
  const testApp = await build(t)
  const { app } = testApp
  await startWorkers(t, testApp)
  const ws = await createWorkspace(app)
  const receiver = await startReadmeReceiver(t, await signingSecret(app, ws))

  await createRule(app, ws, ruleBody(`${receiver.url}/json`, { title: 'JSON' }))
  await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/form`, {
      title: 'Form',
      request: {
        method: 'POST',
        url: `${receiver.url}/form`,
        body_format: 'form',
        body_pairs: [{ key: 'name', value: '{{lead.name}}' }],
      },
    }),
  )
  const sent = await postEvent(app, ws, 'lead.created', lead({ name: 'Ada & "co" ✓' }))
  t.equal(sent.deliveries.length, 2)
  for (const id of sent.deliveries) {
    const delivery = await settled(app, ws, id)
    t.equal(delivery.status, 'succeeded', `${id} verified`)
    t.equal(delivery.response_status, 204)
  }
  t.same(
    receiver.verdicts.map((v) => v.status),
    [204, 204],
  )
  t.same(receiver.verdicts.map((v) => v.headers['webhook-id']).sort(), [...sent.deliveries].sort())

  // The same headers over an altered body do not verify.
  const [genuine] = receiver.verdicts
  const forged = await fetch(`${receiver.url}/json`, {
    method: 'POST',
    headers: genuine!.headers,
    body: genuine!.body.replace('Ada', 'Eve'),
  })
  t.equal(forged.status, 401)
})

t.test(
  'during a rotation the old secret still verifies; another workspace’s never does',
  async (t) => {
    const testApp = await build(t)
    const { app } = testApp
    await startWorkers(t, testApp)
    const ws = await createWorkspace(app)
    const other = await createWorkspace(app, 'Other')
    const oldSecret = await signingSecret(app, ws)
    const rotated = await app.inject({
      method: 'POST',
      url: '/v1/settings/signing-secret/rotate',
      headers: ws.auth,
      payload: { overlap_seconds: 3600 },
    })
    t.equal(rotated.statusCode, 200, rotated.body)
    const newSecret = await signingSecret(app, ws)
    t.not(newSecret, oldSecret)

    const withOld = await startReadmeReceiver(t, oldSecret)
    const withNew = await startReadmeReceiver(t, newSecret)
    const withOther = await startReadmeReceiver(t, await signingSecret(app, other))
    for (const [title, url] of [
      ['old', withOld.url],
      ['new', withNew.url],
      ['other', withOther.url],
    ] as const) {
      await createRule(app, ws, ruleBody(url, { title, execution: { max_attempts: 1 } }))
    }
    const sent = await postEvent(app, ws, 'lead.created', lead({ name: 'Ada' }))
    await Promise.all(sent.deliveries.map((id) => settled(app, ws, id)))
    t.same(
      withOld.verdicts.map((v) => v.status),
      [204],
    )
    t.same(
      withNew.verdicts.map((v) => v.status),
      [204],
    )
    t.same(
      withOther.verdicts.map((v) => v.status),
      [401],
    )
  },
)

t.test('GET and DELETE sign their path and query, which carry the data', async (t) => {
  const testApp = await build(t)
  const { app } = testApp
  await startWorkers(t, testApp)
  const ws = await createWorkspace(app)
  const secret = await signingSecret(app, ws)
  const receiver = await startReadmeReceiver(t, secret)
  for (const method of ['GET', 'DELETE']) {
    await createRule(
      app,
      ws,
      ruleBody(receiver.url, {
        title: method,
        request: {
          method,
          url: `${receiver.url}/leads/{{lead.id}}?src=crm`,
          body_format: 'json',
          body_pairs: [
            { key: 'email', value: '{{lead.email}}' },
            { key: 'name', value: '{{lead.name}}' },
          ],
        },
      }),
    )
  }
  const sent = await postEvent(app, ws, 'lead.created', lead({ name: 'Ada & co', email: 'a@x.io' }))
  for (const id of sent.deliveries) {
    const delivery = await settled(app, ws, id)
    t.equal(delivery.response_status, 204, `${id}: the README receiver verified it`)
  }
  const target = '/leads/L-1?src=crm&email=a%40x.io&name=Ada+%26+co'
  t.same(receiver.verdicts.map((v) => [v.method, v.url, v.status]).sort(), [
    ['DELETE', target, 204],
    ['GET', target, 204],
  ])
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64')
  for (const verdict of [...receiver.verdicts]) {
    // A query changed on the way does not verify: the data is covered.
    const forged = await fetch(`${receiver.url}${target.replace('a%40x.io', 'eve%40x.io')}`, {
      method: verdict.method,
      headers: verdict.headers,
    })
    t.equal(forged.status, 401, `${verdict.method}: an altered query is refused`)
  }
  // The simple signature covers the same content.
  const expected = `sha256=${createHmac('sha256', key).update(target).digest('hex')}`
  const history = await app.inject({
    url: `/v1/deliveries/${sent.deliveries[0]}`,
    headers: ws.auth,
  })
  t.equal(
    history.json().attempt_history[0].request.headers['x-hookline-signature'],
    expected,
    'X-Hookline-Signature is the HMAC of the path and query',
  )
})
