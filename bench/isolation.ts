/**
 * `npm run bench:isolation`: issue 17's benchmark. One Hookline process
 * (ROLE=all, the compiled build), two workspaces. B, the victim, calls
 * `GET /v1/workspace` back to back and posts an event every 100 ms to a rule
 * whose receiver notes when each delivery arrives; A, the attacker, runs one
 * attack per phase: none (baseline), its templates through deliveries (a rule
 * with loops, enabled again each time it disables itself) and previews
 * (nested loops, one filter over 300,000 items), and its bodies at its
 * handlers' /in/ endpoints (90,000 XML attributes, 120,000 elements, 90,000
 * JSON keys, JSON 10,000 deep, U+0000, a flood of unknown tokens). The
 * largest event-loop block is the service's own
 * `nodejs_eventloop_lag_max_seconds` (perf_hooks.monitorEventLoopDelay,
 * reset at each scrape), scraped every 250 ms. Writes
 * bench/results/isolation.json. ISOLATION_PHASE_MS sets each phase's length,
 * ISOLATION_PHASES=a,b runs only those phases besides the baseline.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { cpus, loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent, request } from 'undici'
import { buildHookline, startFlags } from './lib/deliver-hookline.js'
import { freePort } from './lib/deliver-ports.js'
import { startBenchPostgres } from './lib/postgres.js'
import { percentile, round } from './lib/stats.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const OPERATOR = 'bench-operator-token-0123456789'
const METRICS = 'bench-metrics-token-0123456789'
const PHASE_MS = Number(process.env.ISOLATION_PHASE_MS ?? 6000)
// Some phases only (comma-separated names; the baseline always runs), to guide a change.
const ONLY = process.env.ISOLATION_PHASES?.split(',')
const log = (line = '') => process.stdout.write(`${line}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const LOOPS =
  '{% for a in lead.items %}{% for b in lead.items %}{% for c in lead.items %}{{ c }}{% endfor %}{% endfor %}{% endfor %}'
const ONE_FILTER = '{"n": {{ lead.items | where: "x", 1 | size }}}'
const items = Array.from({ length: 1000 }, (_, i) => i)
const bigItems = Array.from({ length: 300_000 }, () => 1)

async function main() {
  const pg = await startBenchPostgres()
  const databaseUrl = await pg.createDatabase('isolation')
  buildHookline()
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-isolation-'))
  const child: ChildProcess = spawn(
    process.execPath,
    [...startFlags(), path.join(root, 'dist/server.js')],
    {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: databaseUrl,
        ROLE: 'all',
        API_RATE_PER_MINUTE: '0',
        PORT: String(port),
        OPERATOR_TOKEN: OPERATOR,
        METRICS_TOKEN: METRICS,
        ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        DATA_DIR: dataDir,
        OUTBOUND_ALLOW_LIST: '127.0.0.1/32',
        BOOTSTRAP_WORKSPACE: 'false',
        LOG_LEVEL: 'error',
      },
    },
  )
  const agent = new Agent({ connections: 64, keepAliveTimeout: 60_000 })
  const call = async (
    method: string,
    url: string,
    token: string,
    body?: unknown,
    type = 'application/json',
  ) => {
    const res = await request(`${base}${url}`, {
      method: method as 'GET',
      dispatcher: agent,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': type }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    })
    const text = await res.body.text()
    return { status: res.statusCode, text, json: () => JSON.parse(text) }
  }
  try {
    for (let i = 0; ; i++) {
      const up = await call('GET', '/healthz', '').catch(() => null)
      if (up?.status === 200) break
      if (i > 600) throw new Error('the service did not start')
      await sleep(100)
    }
    // B's receiver: when each delivery (webhook-id) arrived.
    const arrived = new Map<string, number>()
    const receiver = createServer((req, res) => {
      arrived.set(String(req.headers['webhook-id']), performance.now())
      req.resume()
      req.on('end', () => res.writeHead(200).end('ok'))
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`

    const workspace = async (name: string) => {
      const ws = (await call('POST', '/operator/workspaces', OPERATOR, { name })).json()
      const { key } = (
        await call('POST', `/operator/workspaces/${ws.id}/api-keys`, OPERATOR, { name })
      ).json()
      return { id: ws.id as string, key: key as string }
    }
    const a = await workspace('A')
    const b = await workspace('B')
    const made = async (token: string, url: string, body: unknown) => {
      const res = await call('POST', url, token, body)
      if (res.status !== 201) throw new Error(`${url}: ${res.status} ${res.text}`)
      return res.json()
    }
    await made(b.key, '/v1/rules', {
      title: 'B',
      event_types: ['lead.created'],
      request: {
        method: 'POST',
        url: `${receiverUrl}/b`,
        body_format: 'json',
        body_pairs: [{ key: 'id', value: '{{ lead.id | upcase }}' }],
      },
    })
    const runaway = await made(a.key, '/v1/rules', {
      title: 'A loops',
      event_types: ['lead.created'],
      request: {
        method: 'POST',
        url: `${receiverUrl}/a`,
        body_format: 'text',
        body_template: LOOPS,
      },
    })
    const filter = await made(a.key, '/v1/rules', {
      title: 'A filter',
      event_types: [],
      request: {
        method: 'POST',
        url: `${receiverUrl}/a`,
        body_format: 'json',
        body_template: ONE_FILTER,
      },
    })
    const xmlHandler = await made(a.key, '/v1/handlers', {
      title: 'XML',
      body_format: 'xml',
      parameters: [],
      mapping: [],
    })
    const jsonHandler = await made(a.key, '/v1/handlers', {
      title: 'JSON',
      parameters: [{ name: 'email', type: 'string', required: false }],
      mapping: [{ source: 'email', target: 'lead.email' }],
    })
    const inUrl = (handler: { endpoint_url: string }) => new URL(handler.endpoint_url).pathname

    // The service's largest event-loop delay since the last scrape.
    const scrapeMaxMs = async () => {
      const res = await call('GET', '/metrics', METRICS)
      const line = res.text
        .split('\n')
        .find((l) => l.startsWith('nodejs_eventloop_lag_max_seconds'))
      return Number(line?.split(' ')[1] ?? 0) * 1000
    }

    const attributes = `<root ${Array.from({ length: 90_000 }, (_, i) => `a${i}="1"`).join(' ')}><email>x</email></root>`
    const elements = `<root>${'<e>1</e>'.repeat(120_000)}</root>`
    const keys = `{${Array.from({ length: 90_000 }, (_, i) => `"k${i}":1`).join(',')}}`
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`
    let unknown = 0
    const attacks: Record<string, (() => Promise<unknown>) | null> = {
      baseline: null,
      template_deliveries: async () => {
        await call('POST', `/v1/rules/${runaway.id}/enable`, a.key, {})
        const id = `A-${randomBytes(4).toString('hex')}`
        await call('POST', '/v1/events', a.key, {
          type: 'lead.created',
          record: { entity_type: 'lead', entity_id: id, fields: { lead: { id, items } } },
        })
      },
      template_previews: () =>
        Promise.all([
          call('POST', `/v1/rules/${runaway.id}/preview`, a.key, {
            record: { entity_type: 'lead', entity_id: 'x', fields: { lead: { items } } },
          }),
          call('POST', `/v1/rules/${filter.id}/preview`, a.key, {
            record: { entity_type: 'lead', entity_id: 'x', fields: { lead: { items: bigItems } } },
          }),
        ]),
      xml_attributes: () =>
        Promise.all(
          [0, 1, 2].map(() => call('POST', inUrl(xmlHandler), '', attributes, 'application/xml')),
        ),
      xml_elements: () => call('POST', inUrl(xmlHandler), '', elements, 'application/xml'),
      json_keys: () => call('POST', inUrl(jsonHandler), '', keys),
      json_deep: () => call('POST', inUrl(jsonHandler), '', deep),
      nul_in_value: () => call('POST', inUrl(jsonHandler), '', '{"email":"a\\u0000b"}'),
      unknown_tokens: () =>
        Promise.all(
          Array.from({ length: 100 }, () =>
            call('POST', `/in/hli_${String(unknown++).padStart(32, 'x')}`, '', '{}'),
          ),
        ),
    }

    const phases: Record<string, unknown> = {}
    let worst = { victim: 0, delivery: 0, block: 0 }
    let baseline = { p50: 0, p99: 0, delivery: 0 }
    for (const [name, attack] of Object.entries(attacks)) {
      if (ONLY && name !== 'baseline' && !ONLY.includes(name)) continue
      await scrapeMaxMs()
      const until = performance.now() + PHASE_MS
      const victim: number[] = []
      const posted = new Map<string, number>()
      let block = 0
      const statuses = new Map<number, number>()
      await Promise.all([
        (async () => {
          while (performance.now() < until) {
            const start = performance.now()
            const res = await call('GET', '/v1/workspace', b.key)
            if (res.status !== 200) throw new Error(`B: ${res.status} ${res.text}`)
            victim.push(performance.now() - start)
          }
        })(),
        (async () => {
          for (let i = 0; performance.now() < until; i++) {
            const start = performance.now()
            const id = `B-${name}-${i}`
            const res = await call('POST', '/v1/events', b.key, {
              type: 'lead.created',
              record: { entity_type: 'lead', entity_id: id, fields: { lead: { id } } },
            })
            if (res.status !== 202) throw new Error(`B event: ${res.status} ${res.text}`)
            for (const delivery of res.json().deliveries as string[]) posted.set(delivery, start)
            await sleep(100)
          }
        })(),
        (async () => {
          while (performance.now() < until) {
            await sleep(250)
            block = Math.max(block, await scrapeMaxMs())
          }
        })(),
        (async () => {
          while (attack && performance.now() < until) {
            const answers = [await attack()].flat(2) as { status?: number }[]
            for (const answer of answers) {
              if (answer?.status)
                statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
            }
          }
        })(),
      ])
      const waitUntil = performance.now() + 60_000
      while ([...posted.keys()].some((id) => !arrived.has(id)) && performance.now() < waitUntil)
        await sleep(50)
      const deliveries = [...posted].map(
        ([id, at]) => (arrived.get(id) ?? Number.POSITIVE_INFINITY) - at,
      )
      const figures = {
        victim_calls: victim.length,
        victim_p50_ms: round(percentile(victim, 50), 1),
        victim_p99_ms: round(percentile(victim, 99), 1),
        deliveries: deliveries.length,
        delivery_p50_ms: round(percentile(deliveries, 50), 1),
        delivery_p99_ms: round(percentile(deliveries, 99), 1),
        max_event_loop_block_ms: round(block, 1),
        attacker_statuses: Object.fromEntries(statuses),
      }
      phases[name] = figures
      log(`${name}: ${JSON.stringify(figures)}`)
      if (name === 'baseline') {
        baseline = {
          p50: figures.victim_p50_ms,
          p99: figures.victim_p99_ms,
          delivery: figures.delivery_p99_ms,
        }
      } else {
        worst = {
          victim: Math.max(worst.victim, figures.victim_p99_ms),
          delivery: Math.max(worst.delivery, figures.delivery_p99_ms),
          block: Math.max(worst.block, figures.max_event_loop_block_ms),
        }
      }
      worst.block = Math.max(worst.block, figures.max_event_loop_block_ms)
    }
    const result = {
      victim_p50_ms_baseline: baseline.p50,
      victim_p99_ms_baseline: baseline.p99,
      victim_p99_ms_attack: worst.victim,
      delivery_p99_ms_baseline: baseline.delivery,
      delivery_p99_ms_attack: worst.delivery,
      max_event_loop_block_ms: worst.block,
      targets: {
        victim_p99_ms_attack: '<= 100',
        delivery_p99_ms_attack: `<= ${round(3 * baseline.delivery + 50, 1)}`,
        max_event_loop_block_ms: '<= 100',
      },
      phases,
      conditions: {
        date: new Date().toISOString(),
        cpus: cpus().length,
        loadavg_at_end: loadavg().map((x) => round(x, 2)),
        phase_ms: PHASE_MS,
        node: process.version,
      },
    }
    log(JSON.stringify(result, null, 2))
    await mkdir(path.join(root, 'bench/results'), { recursive: true })
    await writeFile(
      path.join(root, 'bench/results/isolation.json'),
      `${JSON.stringify(result, null, 2)}\n`,
    )
    receiver.close()
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
    await agent.close()
    await pg.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

await main()
