/**
 * `npm run bench:inbound-parse`: the CPU one process spends on a stranger's
 * 1 MiB body at `/in/<token>`, shape by shape, against `JSON.parse` of the
 * same content. "Processing" is what a call costs before the database: the
 * pure steps of `decide` (parse, shape limits, coercion, conditions,
 * mapping) and the JSON text of the parameters and record the call log
 * stores. Measured twice: with the limits lifted, so the whole body is
 * processed (the linearity figure), and with the default limits, which
 * refuse most of these shapes at the cap. The reference is `JSON.parse` of
 * the body itself for JSON shapes, and of the parameters it gave (as JSON
 * text) for the others: the same values, as JSON. CPU is this process's
 * user + system time (process.cpuUsage, as /proc/self/stat counts it),
 * median of the rounds. Figures go to stdout and to
 * bench/results/inbound-parse.json.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { type BodyLimits, DEFAULT_BODY_LIMITS } from '../src/formats/body-limits.js'
import { decide, type IncomingCall } from '../src/inbound/decide.js'
import { jsonb } from '../src/inbound/json-safe.js'
import type { LoadedHandler } from '../src/inbound/loaded-handler.js'
import { median, round } from './lib/stats.js'

const MiB = 1024 * 1024
const ROUNDS = 9
const LIFTED: BodyLimits = { maxDepth: 1000, maxValues: 1e9, maxParameters: 1e9 }

/** Pieces joined until the body reaches 1 MiB. */
function fill(head: string, piece: (i: number) => string, tail: string, separator = ''): string {
  const parts: string[] = []
  let size = head.length + tail.length
  for (let i = 0; size < MiB; i++) {
    const next = piece(i)
    size += next.length + separator.length
    parts.push(next)
  }
  return head + parts.join(separator) + tail
}

const nested = (depth: number) => `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`
const BOUNDARY = 'bench-boundary-1234'

interface Shape {
  name: string
  format: 'json' | 'xml' | 'form' | 'multipart'
  contentType: string
  body: string
  /** The parameter the handler maps, so coercion and mapping run. */
  email: string
}

const shapes: Shape[] = [
  {
    name: 'flat JSON (keys)',
    format: 'json',
    contentType: 'application/json',
    body: fill('{"email":"ada@example.com",', (i) => `"k${i}":${i}`, '}', ','),
    email: 'email',
  },
  {
    name: 'deep JSON (objects 30 deep, side by side)',
    format: 'json',
    contentType: 'application/json',
    body: fill('{"email":"ada@example.com",', (i) => `"d${i}":${nested(29)}`, '}', ','),
    email: 'email',
  },
  {
    name: 'many attributes',
    format: 'xml',
    contentType: 'application/xml',
    body: fill('<lead ', (i) => `a${i}="${i}"`, '><email>ada@example.com</email></lead>', ' '),
    email: 'lead.email',
  },
  {
    name: 'many elements',
    format: 'xml',
    contentType: 'application/xml',
    body: fill('<lead><email>ada@example.com</email>', (i) => `<e>${i}</e>`, '</lead>'),
    email: 'lead.email',
  },
  {
    name: 'many form fields',
    format: 'form',
    contentType: 'application/x-www-form-urlencoded',
    body: fill('email=ada%40example.com&', (i) => `f${i}=${i}`, '', '&'),
    email: 'email',
  },
  {
    name: 'multipart fields',
    format: 'multipart',
    contentType: `multipart/form-data; boundary=${BOUNDARY}`,
    body: fill(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="email"\r\n\r\nada@example.com\r\n`,
      (i) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\n${i}\r\n`,
      `--${BOUNDARY}--\r\n`,
    ),
    email: 'email',
  },
  {
    name: 'JSON nested 200,000 deep',
    format: 'json',
    contentType: 'application/json',
    body: `{"email":"ada@example.com","a":${'['.repeat(MiB / 2 - 30)}${']'.repeat(MiB / 2 - 30)}}`,
    email: 'email',
  },
]

function handlerFor(shape: Shape): LoadedHandler {
  return {
    id: 'hd_bench',
    workspaceId: 'ws_bench',
    active: true,
    methods: new Set(['POST']),
    bodyFormat: shape.format,
    bodyLimit: 10 * MiB,
    parameters: [{ name: shape.email, type: 'email', required: true }],
    mapping: [{ source: shape.email, target: 'lead.email' }],
    entityType: 'lead',
    conditions: undefined,
    protectionSeconds: 0,
    protectionParameters: [],
    verification: { type: 'none' },
    secretHeaders: [],
    secretQuery: [],
    response: { status: 200, content_type: 'application/json', headers: [], body_template: null },
    actions: [],
    xmlListPaths: new Set(),
  } as LoadedHandler
}

function cpuMs(work: () => void): number {
  const samples: number[] = []
  for (let round_ = 0; round_ < ROUNDS + 2; round_++) {
    const before = process.cpuUsage()
    work()
    const used = process.cpuUsage(before)
    if (round_ >= 2) samples.push((used.user + used.system) / 1000)
  }
  return median(samples)
}

const log = (line = '') => process.stdout.write(`${line}\n`)

async function main() {
  log('# Inbound body processing, 1 MiB bodies')
  log(
    `machine: ${cpus().length} × ${cpus()[0]?.model.trim()}; Node ${process.version}; ` +
      `load average ${loadavg()
        .map((l) => round(l, 2))
        .join(' ')}`,
  )
  log(
    `CPU ms per body, median of ${ROUNDS}; default limits ${JSON.stringify(DEFAULT_BODY_LIMITS)}\n`,
  )
  const results: Record<string, unknown>[] = []
  for (const shape of shapes) {
    const handler = handlerFor(shape)
    const raw = Buffer.from(shape.body)
    const call: IncomingCall = {
      id: 'call_bench',
      receivedAt: new Date(),
      method: 'POST',
      headers: { 'content-type': shape.contentType },
      query: {},
      rawQuery: '',
      contentType: shape.contentType,
      body: { ok: true, raw },
      sourceAddress: '127.0.0.1',
    }
    const process_ = (limits: BodyLimits) => {
      const decision = decide(handler, call, limits)
      jsonb(decision.params)
      jsonb(decision.record)
      return decision
    }
    const lifted = process_(LIFTED)
    const atDefaults = process_(DEFAULT_BODY_LIMITS)
    const reference =
      shape.format === 'json' ? shape.body : JSON.stringify(lifted.params ?? { refused: true })
    const liftedMs = cpuMs(() => process_(LIFTED))
    const defaultsMs = cpuMs(() => process_(DEFAULT_BODY_LIMITS))
    const jsonParseMs = cpuMs(() => JSON.parse(reference))
    const outcome = (d: ReturnType<typeof process_>) =>
      d.step === 'final' ? `${d.outcome}: ${d.answer.status} ${d.reason?.slice(0, 70)}` : d.step
    const row = {
      shape: shape.name,
      bytes: raw.length,
      cpu_ms_limits_lifted: round(liftedMs, 1),
      cpu_ms_default_limits: round(defaultsMs, 1),
      json_parse_cpu_ms: round(jsonParseMs, 1),
      ratio_to_json_parse: round(liftedMs / jsonParseMs, 2),
      outcome_limits_lifted: outcome(lifted),
      outcome_default_limits: outcome(atDefaults),
    }
    results.push(row)
    log(
      `${shape.name}: ${row.bytes} bytes; lifted ${row.cpu_ms_limits_lifted} ms (${row.outcome_limits_lifted}); ` +
        `defaults ${row.cpu_ms_default_limits} ms (${row.outcome_default_limits}); ` +
        `JSON.parse ${row.json_parse_cpu_ms} ms; ratio ${row.ratio_to_json_parse}`,
    )
  }
  await mkdir(new URL('./results/', import.meta.url), { recursive: true })
  await writeFile(
    new URL('./results/inbound-parse.json', import.meta.url),
    `${JSON.stringify({ date: new Date().toISOString(), rounds: ROUNDS, shapes: results }, null, 2)}\n`,
  )
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`)
  process.exit(1)
})
