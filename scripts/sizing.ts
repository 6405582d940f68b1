/**
 * The README's sizing table, computed from measured costs in bench/results:
 *
 *   npx tsx scripts/sizing.ts           prints the table and the figures it used
 *   npx tsx scripts/sizing.ts --write   also replaces it in README.md (between the sizing markers)
 *
 * Inputs (re-run the benches, then this, to update the guide):
 * - bench/results/scale.json (`npm run bench:scale`): CPU µs per delivery of
 *   the API processes, the workers and PostgreSQL, each measured per process tree;
 * - bench/results/deliver.json (`npm run bench:deliver`): WAL and history
 *   (heap + TOAST + indexes) bytes per delivery; scale.json's own when absent;
 * - bench/results/inbound.json (`npm run bench:inbound`): CPU µs per accepted
 *   inbound call of the server process and of PostgreSQL.
 *
 * Arithmetic, for a rate R per second (every figure a measured average):
 *   cores of a role = R × µs per delivery ÷ 10^6 ÷ UTILISATION
 *   history disk    = R × 86,400 × RETENTION_DAYS × history bytes per delivery
 *   WAL             = R × WAL bytes per delivery (per second; × 86,400 a day)
 * UTILISATION (0.6) leaves room for bursts, retries and vacuum; a delivery
 * that needs more than one attempt costs about one more worker and
 * PostgreSQL share per attempt.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const RATES = [1_000, 10_000, 50_000]
const RETENTION_DAYS = 30
const UTILISATION = 0.6

type Json = Record<string, unknown>
const read = (name: string): Json => {
  try {
    return JSON.parse(readFileSync(`${root}bench/results/${name}.json`, 'utf8'))
  } catch {
    return {}
  }
}
const num = (value: unknown, what: string): number => {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new Error(`missing figure: ${what}`)
  return value
}

const scale = read('scale')
const deliver = read('deliver')
const inbound = read('inbound')
const scaleConditions = (scale.conditions ?? {}) as Json
const costs = {
  api: num(scale.cpu_us_per_delivery_api, 'scale.json cpu_us_per_delivery_api'),
  worker: num(scale.cpu_us_per_delivery_worker, 'scale.json cpu_us_per_delivery_worker'),
  postgres: num(scale.cpu_us_per_delivery_postgres, 'scale.json cpu_us_per_delivery_postgres'),
  wal: num(
    deliver.wal_bytes_per_delivery ?? scale.wal_bytes_per_delivery,
    'wal_bytes_per_delivery (deliver.json or scale.json)',
  ),
  history: num(
    deliver.heap_index_bytes_per_delivery ?? scale.history_bytes_per_delivery,
    'heap_index_bytes_per_delivery (deliver.json) or history_bytes_per_delivery (scale.json)',
  ),
  inboundApi: num(inbound.cpu_us_per_call_server, 'inbound.json cpu_us_per_call_server'),
  inboundPostgres: num(inbound.cpu_us_per_call_postgres, 'inbound.json cpu_us_per_call_postgres'),
}
const sources = {
  cpu: `bench/results/scale.json (${scaleConditions.date ?? 'undated'}, ${scaleConditions.machine ?? '?'}, load average ${scaleConditions.load_average_1m_at_end ?? '?'} at its end)`,
  storage:
    deliver.wal_bytes_per_delivery !== undefined
      ? 'bench/results/deliver.json'
      : 'bench/results/scale.json',
  inbound: 'bench/results/inbound.json',
}

const cores = (rate: number, us: number) => (rate * us) / 1e6 / UTILISATION
const fmtCores = (n: number) => (n < 10 ? n.toFixed(1) : String(Math.ceil(n)))
const bytes = (n: number) => {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB']
  let i = 0
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000
    i++
  }
  return `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`
}
const thousands = (n: number) => n.toLocaleString('en')

function table(): string {
  const lines: string[] = []
  lines.push(
    `Measured costs (${sources.cpu}; storage from ${sources.storage}; inbound from ${sources.inbound}):`,
    '',
    '| cost | per delivery | per inbound call |',
    '| --- | ---: | ---: |',
    `| CPU of the API processes | ${costs.api} µs | ${costs.inboundApi} µs |`,
    `| CPU of the workers | ${costs.worker} µs | — |`,
    `| CPU of PostgreSQL | ${costs.postgres} µs | ${costs.inboundPostgres} µs |`,
    `| WAL written | ${thousands(costs.wal)} B | not measured |`,
    `| history kept (heap, TOAST, indexes) | ${thousands(costs.history)} B | not measured |`,
    '',
    `Cores at ${Math.round(UTILISATION * 100)} % busy, and disk for ${RETENTION_DAYS} days of history:`,
    '',
    '| deliveries/s | API cores | worker cores | PostgreSQL cores | WAL | history on disk |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
  )
  for (const rate of RATES) {
    const history = rate * 86_400 * RETENTION_DAYS * costs.history
    lines.push(
      `| ${thousands(rate)} | ${fmtCores(cores(rate, costs.api))} | ${fmtCores(cores(rate, costs.worker))} | ` +
        `${fmtCores(cores(rate, costs.postgres))} | ${bytes(rate * costs.wal)}/s, ${bytes(rate * costs.wal * 86_400)}/day | ` +
        `${bytes(history)} |`,
    )
  }
  lines.push(
    '',
    '| inbound calls/s | API cores | PostgreSQL cores |',
    '| ---: | ---: | ---: |',
    ...RATES.map(
      (rate) =>
        `| ${thousands(rate)} | ${fmtCores(cores(rate, costs.inboundApi))} | ${fmtCores(cores(rate, costs.inboundPostgres))} |`,
    ),
    '',
    'An accepted inbound call that the handler forwards to the CRM adds one delivery to the first table.',
    '',
    'Worked example, 1,000 deliveries/s: API ' +
      `1,000 × ${costs.api} µs ÷ 0.6 = ${fmtCores(cores(1000, costs.api))} cores; workers 1,000 × ${costs.worker} µs ÷ 0.6 = ` +
      `${fmtCores(cores(1000, costs.worker))}; PostgreSQL 1,000 × ${costs.postgres} µs ÷ 0.6 = ${fmtCores(cores(1000, costs.postgres))}; ` +
      `WAL 1,000 × ${thousands(costs.wal)} B = ${bytes(1000 * costs.wal)}/s; history 1,000 × 86,400 × ${RETENTION_DAYS} × ` +
      `${thousands(costs.history)} B = ${bytes(1000 * 86_400 * RETENTION_DAYS * costs.history)}.`,
  )
  return lines.join('\n')
}

const BEGIN = '<!-- sizing:begin (npx tsx scripts/sizing.ts --write) -->'
const END = '<!-- sizing:end -->'

const text = table()
process.stdout.write(`${text}\n`)
if (process.argv.includes('--write')) {
  const file = `${root}README.md`
  const readme = readFileSync(file, 'utf8')
  const from = readme.indexOf(BEGIN)
  const to = readme.indexOf(END)
  if (from < 0 || to < from) throw new Error(`README.md has no ${BEGIN} … ${END} section`)
  writeFileSync(file, `${readme.slice(0, from + BEGIN.length)}\n${text}\n${readme.slice(to)}`)
  process.stdout.write('README.md updated\n')
}
