// Fault 4: receivers that trickle their headers or their body a byte a
// second, that stream an endless body, or that accept and never answer. Every
// attempt ends (at its deadline, or at the body cap), every socket is closed,
// and the worker's memory stays flat.
import { createServer, type Server, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, ruleBody } from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'
import { deliveryCounts, quantiles, sleep, startService } from './helpers.js'

type Behaviour = (socket: Socket) => void

/** A raw TCP "HTTP server" that reads the request and then does `behave`. Counts open sockets. */
async function rawReceiver(t: Test, behave: Behaviour) {
  const open = new Set<Socket>()
  const ids: string[] = []
  let accepted = 0
  const server: Server = createServer((socket) => {
    accepted++
    open.add(socket)
    const timers: NodeJS.Timeout[] = []
    socket.on('close', () => {
      open.delete(socket)
      for (const timer of timers) clearInterval(timer)
    })
    socket.on('error', () => {})
    let head = ''
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      ids.push(/webhook-id: (\S+)/i.exec(head)?.[1] ?? '')
      socket.off('data', onData)
      socket.resume()
      behave(Object.assign(socket, { timers }))
    }
    socket.on('data', onData)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of open) socket.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    open: () => open.size,
    accepted: () => accepted,
    ids,
  }
}

type WithTimers = Socket & { timers?: NodeJS.Timeout[] }

/** Writes `text` one byte every `ms`, as long as the socket lives. */
function trickle(socket: WithTimers, text: string, ms: number) {
  let i = 0
  const timer = setInterval(() => {
    if (socket.destroyed) return clearInterval(timer)
    socket.write(text[i % text.length] ?? 'x')
    i++
  }, ms)
  socket.timers?.push(timer)
}

const behaviours: Record<string, Behaviour> = {
  'trickled headers': (socket) => trickle(socket, 'HTTP/1.1 200 OK\r\nX-Slow: yes', 1000),
  'trickled body': (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n')
    trickle(socket, 'abcdefghij', 1000)
  },
  'never answers': () => {},
  'endless body': (socket) => {
    socket.write(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n',
    )
    const chunk = Buffer.from(`10000\r\n${'z'.repeat(0x10000)}\r\n`)
    const pump = () => {
      while (!socket.destroyed && socket.write(chunk)) {}
    }
    socket.on('drain', pump)
    pump()
  },
}

t.test(
  'trickling, endless and silent receivers: every attempt ends, memory stays flat',
  async (t) => {
    const { app, database } = await build(t)
    const ws = await createWorkspace(app)
    const fast = await startReceiver(t)
    const receivers: Record<string, Awaited<ReturnType<typeof rawReceiver>>> = {}
    const rules: Record<string, string> = {}
    for (const [name, behave] of Object.entries(behaviours)) {
      receivers[name] = await rawReceiver(t, behave)
      const rule = await createRule(
        app,
        ws,
        ruleBody(`${receivers[name].url}/hook`, {
          title: name,
          event_types: [`lead.${name.replace(/\s/g, '_')}`],
          execution: { timeout_ms: 1000, max_attempts: 1 },
        }),
      )
      rules[name] = rule.id
    }
    await createRule(app, ws, ruleBody(`${fast.url}/hook`, { event_types: ['lead.warmup'] }))

    const service = startService(t, database.url, {
      QUEUE_LEASE_MS: '2000',
      WORKER_CONCURRENCY: '50',
    })
    // Warm up (module loading, JIT, pools) before the baseline.
    await postTyped(app, ws, 'lead.warmup', 200)
    await eventually(async () => (await deliveryCounts(database)).succeeded === 200, 120_000)
    await sleep(1000)
    const baseline = service.rss()
    const samples: number[] = []
    const sampler = setInterval(() => samples.push(service.rss()), 200)
    t.teardown(() => clearInterval(sampler))

    const perRule = 100
    for (const name of Object.keys(behaviours)) {
      await postTyped(app, ws, `lead.${name.replace(/\s/g, '_')}`, perRule)
    }
    const total = 200 + perRule * Object.keys(behaviours).length
    await eventually(async () => {
      const c = await deliveryCounts(database)
      return c.succeeded + c.failed === total
    }, 300_000)
    clearInterval(sampler)

    const counts = await deliveryCounts(database)
    t.match(counts, { total, queued: 0, delivering: 0 }, 'deliveries finished = events in')
    for (const name of ['trickled headers', 'trickled body', 'never answers']) {
      const { rows } = await database.pool.query<{ status: string; error: string; n: number }>(
        `select d.status, a.error, count(*)::int as n
      from deliveries d join delivery_attempts a on a.delivery_id = d.id
      where d.rule_id = $1 group by 1, 2`,
        [rules[name]],
      )
      t.same(
        rows,
        [{ status: 'failed', error: 'timed out after 1000 ms', n: perRule }],
        `${name}: every attempt ended at its deadline`,
      )
    }
    const { rows: endless } = await database.pool.query<{
      status: string
      longest: number
      n: number
    }>(
      // A first attempt that succeeds is kept in its delivery's row (0019).
      `select d.status, max(length(d.response_body))::int as longest, count(*)::int as n
    from deliveries d
    where d.rule_id = $1 and d.sent_at is not null
      and not exists (select from delivery_attempts a where a.delivery_id = d.id)
    group by 1`,
      [rules['endless body']],
    )
    t.same(
      endless,
      [{ status: 'succeeded', longest: 65536, n: perRule }],
      'endless body: read up to the cap, then the connection dropped',
    )
    for (const [name, receiver] of Object.entries(receivers)) {
      t.equal(receiver.ids.length, perRule, `${name}: one request per attempt`)
      t.equal(new Set(receiver.ids).size, perRule, `${name}: each delivery once`)
      await eventually(() => receiver.open() === 0, 30_000)
      t.pass(`${name}: every socket was closed by the worker`)
    }

    const peak = Math.max(...samples)
    const mb = (bytes: number) => Math.round(bytes / 2 ** 20)
    t.ok(
      peak - baseline < 100 * 2 ** 20,
      `memory stayed flat: baseline ${mb(baseline)} MB, peak ${mb(peak)} MB`,
    )
    const q = quantiles(samples.map(mb))
    t.comment(
      `figures: RSS baseline ${mb(baseline)} MB, samples ${q.n}, p50 ${q.p50} MB, max ${q.max} MB; ` +
        `connections ${Object.entries(receivers)
          .map(
            ([n, r]) =>
              `${n} ${r.accepted()} (${r.ids.length} requests, ${new Set(r.ids).size} ids)`,
          )
          .join(', ')}`,
    )
  },
)

async function postTyped(
  app: Awaited<ReturnType<typeof build>>['app'],
  ws: { auth: { authorization: string } },
  type: string,
  count: number,
) {
  const events = Array.from({ length: count }, (_, i) => ({
    type,
    record: { entity_type: 'lead', entity_id: `${type}-${i}`, fields: { lead: { id: i } } },
  }))
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events/batch',
    headers: ws.auth,
    payload: { events },
  })
  if (res.statusCode !== 202) throw new Error(`post events: ${res.statusCode} ${res.body}`)
}
