// Compute isolation (#17): workspace A runs every attack at once, the
// template ones through real deliveries and previews, the inbound ones over
// real sockets, against the service in its own process; workspace B keeps
// using the API and receiving deliveries meanwhile. Every call of B is
// answered correctly, every delivery of B delivered; A's attacks are answered
// with a 4xx (or accepted: what the inbound side refuses is its limits' call)
// or fail with their reason, never a 5xx; A's runaway rule disables itself.
// Outcomes only, never durations.
import { createServer } from 'node:net'
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createHandler, type Sent, send } from '../helpers/inbound.js'
import { createRule, ruleBody } from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'
import { deliveryCounts, sleep, startService } from './helpers.js'

const LOOPS =
  '{% for a in lead.items %}{% for b in lead.items %}{% for c in lead.items %}{{ c }}{% endfor %}{% endfor %}{% endfor %}'
const ONE_FILTER = '{"n": {{ lead.items | where: "x", 1 | size }}}'
const items = Array.from({ length: 1000 }, (_, i) => i)
const bigItems = Array.from({ length: 300_000 }, () => 1)

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

t.test('one workspace attacking with templates and bodies leaves another whole', async (t) => {
  const { app, database } = await build(t)
  const receivedB = new Set<string>()
  const receiverB = await startReceiver(t, (req, res) => {
    receivedB.add(String(req.headers['webhook-id']))
    res.writeHead(200).end('ok')
  })
  const receiverA = await startReceiver(t)
  const a = await createWorkspace(app, 'A')
  const b = await createWorkspace(app, 'B')

  const runaway = await createRule(app, a, {
    ...ruleBody(`${receiverA.url}/loops`),
    title: 'Runaway loops',
    request: {
      method: 'POST',
      url: `${receiverA.url}/loops`,
      body_format: 'text',
      body_template: LOOPS,
    },
  })
  const filter = await createRule(app, a, {
    ...ruleBody(`${receiverA.url}/filter`),
    event_types: [],
    request: {
      method: 'POST',
      url: `${receiverA.url}/filter`,
      body_format: 'json',
      body_template: ONE_FILTER,
    },
  })
  const xmlHandler = await createHandler(app, a.auth, {
    title: 'XML',
    body_format: 'xml',
    parameters: [{ name: 'root.email', type: 'string', required: false }],
    mapping: [],
  })
  const jsonHandler = await createHandler(app, a.auth, {
    title: 'JSON',
    parameters: [{ name: 'email', type: 'string', required: false }],
    mapping: [{ source: 'email', target: 'lead.email' }],
  })
  await createRule(app, b, {
    ...ruleBody(`${receiverB.url}/b`),
    request: {
      method: 'POST',
      url: `${receiverB.url}/b`,
      body_format: 'json',
      body_pairs: [{ key: 'id', value: '{{ lead.id | upcase }}' }],
    },
  })

  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const service = startService(t, database.url, { ROLE: 'all', PORT: String(port) })
  await eventually(
    async () =>
      (await send(`${base}/healthz`, { method: 'GET' }).catch(() => null))?.status === 200,
    120_000,
  )

  const json = (auth: Record<string, string>) => ({ ...auth, 'content-type': 'application/json' })
  const asA = json(a.auth)
  const asB = json(b.auth)

  // B: the API and deliveries, round after round, until A's attacks are over.
  let attacking = true
  const bProblems: string[] = []
  const bDeliveries: string[] = []
  let bRounds = 0
  const victim = (async () => {
    while (attacking || bRounds < 5) {
      const ws = await send(`${base}/v1/workspace`, { method: 'GET', headers: b.auth })
      if (ws.status !== 200 || ws.json().id !== b.id)
        bProblems.push(`workspace: ${ws.status} ${ws.text}`)
      const id = `B-${bRounds}`
      const event = await send(`${base}/v1/events`, {
        headers: asB,
        body: JSON.stringify({
          type: 'lead.created',
          record: { entity_type: 'lead', entity_id: id, fields: { lead: { id } } },
        }),
      })
      if (event.status !== 202) bProblems.push(`event: ${event.status} ${event.text}`)
      else bDeliveries.push(...(event.json().deliveries as string[]))
      bRounds++
      await sleep(50)
    }
  })()

  const answers: { what: string; sent: Sent }[] = []
  const record = (what: string) => (sent: Sent) => {
    answers.push({ what, sent })
    return sent
  }

  const templateAttacks = async () => {
    // Saved: refused at once.
    await send(`${base}/v1/rules`, {
      headers: asA,
      body: JSON.stringify({
        ...ruleBody(`${receiverA.url}/x`),
        request: {
          method: 'POST',
          url: `${receiverA.url}/x`,
          body_format: 'text',
          body_template: '{{ (1..16000000) | join: "x" }}',
        },
      }),
    }).then(record('save a huge range'))
    // Previews: over budget, answered 400.
    for (let i = 0; i < 2; i++) {
      await send(`${base}/v1/rules/${runaway.id}/preview`, {
        headers: asA,
        body: JSON.stringify({
          record: { entity_type: 'lead', entity_id: 'x', fields: { lead: { items } } },
        }),
      }).then(record('preview nested loops'))
      await send(`${base}/v1/rules/${filter.id}/preview`, {
        headers: asA,
        body: JSON.stringify({
          record: { entity_type: 'lead', entity_id: 'x', fields: { lead: { items: bigItems } } },
        }),
      }).then(record('preview one filter over 300,000 items'))
    }
    // Deliveries: each fails with its reason, until the rule disables itself.
    for (let i = 0; i < 5; i++) {
      await send(`${base}/v1/events`, {
        headers: asA,
        body: JSON.stringify({
          type: 'lead.created',
          record: {
            entity_type: 'lead',
            entity_id: `A-${i}`,
            fields: { lead: { id: `A-${i}`, items } },
          },
        }),
      }).then(record('event for the runaway rule'))
    }
  }

  const xmlUrl = `${base}${xmlHandler.path}`
  const jsonUrl = `${base}${jsonHandler.path}`
  const inboundAttacks = async () => {
    const attributes = Array.from({ length: 90_000 }, (_, i) => `a${i}="1"`).join(' ')
    const xml = { 'content-type': 'application/xml' }
    await Promise.all(
      [0, 1, 2].map(() =>
        send(xmlUrl, { headers: xml, body: `<root ${attributes}><email>x</email></root>` }).then(
          record('XML with 90,000 attributes'),
        ),
      ),
    )
    await send(xmlUrl, { headers: xml, body: `<root>${'<e>1</e>'.repeat(120_000)}</root>` }).then(
      record('XML with 120,000 sibling elements'),
    )
    const keys = `{${Array.from({ length: 90_000 }, (_, i) => `"k${i}":1`).join(',')}}`
    const asJson = { 'content-type': 'application/json' }
    await send(jsonUrl, { headers: asJson, body: keys }).then(record('JSON with 90,000 keys'))
    await send(jsonUrl, {
      headers: asJson,
      body: `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`,
    }).then(record('JSON 10,000 deep'))
    await send(jsonUrl, { headers: asJson, body: '{"email":"a\\u0000b"}' }).then(
      record('U+0000 in a value'),
    )
    // A flood of unknown tokens.
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          send(`${base}/in/hli_${'x'.repeat(28)}${String(round * 50 + i).padStart(4, '0')}`, {
            headers: asJson,
            body: '{}',
          }).then((sent) => (sent.status >= 500 ? record('unknown token')(sent) : sent)),
        ),
      )
    }
  }

  await Promise.all([templateAttacks(), inboundAttacks()])
  // The runaway rule disables itself after three deliveries over budget.
  const disabled = await eventually(async () => {
    const res = await app.inject({ url: `/v1/rules/${runaway.id}`, headers: a.auth })
    return res.json().enabled === false ? res.json() : null
  }, 240_000)
  attacking = false
  await victim

  t.same(bProblems, [], `B: every one of ${bRounds} rounds of calls answered correctly`)
  await eventually(() => bDeliveries.every((id) => receivedB.has(id)), 240_000)
  const bCounts = await deliveryCounts(database, b.id)
  t.match(
    bCounts,
    { succeeded: bDeliveries.length, total: bDeliveries.length },
    'B: every delivery delivered',
  )

  for (const { what, sent } of answers) {
    t.ok(sent.status < 500, `A, ${what}: ${sent.status} ${sent.text.slice(0, 200)}`)
  }
  const refused = (what: string) => answers.filter((answer) => answer.what === what)
  for (const { sent } of [
    ...refused('preview nested loops'),
    ...refused('preview one filter over 300,000 items'),
  ]) {
    t.equal(sent.status, 400)
    t.match(sent.json().message, /the body template exceeded its render budget of 50 ms/)
  }
  t.equal(refused('save a huge range')[0]?.sent.status, 400)
  t.match(
    disabled.disabled_reason,
    /the body template exceeded its render budget of 50 ms on 3 deliveries in a row/,
  )
  // A delivery put off while A's renders held all its shares of the render
  // threads comes back later, to find the rule disabled.
  const openOfA = async () =>
    (
      await database.pool.query(
        "select 1 from deliveries where rule_id = $1 and status in ('queued', 'delivering')",
        [runaway.id],
      )
    ).rowCount === 0
  await eventually(openOfA, 120_000)
  const { rows } = await database.pool.query<{ status: string; last_error: string | null }>(
    'select status, last_error from deliveries where rule_id = $1',
    [runaway.id],
  )
  for (const row of rows) {
    t.ok(
      (row.status === 'failed' &&
        /exceeded its render budget of 50 ms/.test(row.last_error ?? '')) ||
        (row.status === 'cancelled' && row.last_error === 'the rule is disabled'),
      `A's delivery ended with a reason: ${row.status} ${row.last_error}`,
    )
  }
  t.equal(receiverA.received.length, 0, 'nothing of A was sent')
  t.ok(service.alive, 'the service is still up')
  t.comment(
    `figures: B made ${bRounds} rounds; A's answers: ${answers.map((x) => `${x.what} ${x.sent.status}`).join(', ')}`,
  )
})
