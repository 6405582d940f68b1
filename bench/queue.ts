/**
 * `npm run bench:queue` (`-- --quick` for a smoke run): Hookline's job queue
 * beside graphile-worker and pg-boss on one throw-away PostgreSQL, the five
 * measurements of issue 3. Every timed run happens in a fresh process (see
 * lib/tasks.ts), after VACUUM ANALYZE and CHECKPOINT of its own database.
 * Figures go to stdout with their conditions and, for a full run, to
 * bench/results/queue.json.
 */
import { writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import {
  type BenchPostgres,
  postgresSettings,
  startBenchPostgres,
  type Timed,
  timed,
} from './lib/postgres.js'
import { backlogRatio } from './lib/queue-backlog.js'
import { crashRecovery } from './lib/queue-crash.js'
import { median, percentile, round } from './lib/stats.js'
import { type PeerName, runTask } from './lib/tasks.js'

const quick = process.argv.includes('--quick')
const size = quick
  ? { jobs: 20_000, rounds: 2, latency: 200, future: 100_000, due: 2_000, repeats: 3 }
  : { jobs: 200_000, rounds: 3, latency: 1_000, future: 1_000_000, due: 10_000, repeats: 5 }
const batch = 1_000
const peers: PeerName[] = ['hookline', 'graphile', 'pgboss']
const resultKeys = [
  'drain_jps_hookline',
  'drain_jps_graphile',
  'drain_jps_pgboss',
  'enqueue_jps_hookline',
  'enqueue_jps_graphile',
  'enqueue_jps_pgboss',
  'latency_p50_ms',
  'latency_p99_ms',
  // The same two figures under names that say what they time (issue 21).
  'queue_add_to_start_p50_ms',
  'queue_add_to_start_p99_ms',
  'backlog_ratio',
  'crash_recovery_s',
  'crash_lost',
]

const log = (line = '') => process.stdout.write(`${line}\n`)
const jps = (jobs: number, seconds: number) => Math.round(jobs / seconds)

async function main() {
  const began = Date.now()
  const pg = await startBenchPostgres()
  try {
    const { rows } = await pg.query('postgres', 'show server_version')
    log(`# Job queue benchmark${quick ? ' (--quick: smaller sizes, nothing written)' : ''}`)
    log(
      `machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${round(totalmem() / 2 ** 30)} GiB; ` +
        `Node ${process.version}; PostgreSQL ${rows[0].server_version} (embedded, same host)`,
    )
    log(`postgres settings: ${JSON.stringify(postgresSettings)}`)
    log('each timed run: a fresh process, its own database, after VACUUM ANALYZE + CHECKPOINT\n')

    for (const peer of peers) {
      await pg.createDatabase(`bench_${peer}`)
      await runTask({ name: 'setup', peer, url: pg.url(`bench_${peer}`) })
    }
    const section = async <T>(run: () => Promise<T>): Promise<T> => {
      const started = Date.now()
      const value = await run()
      log(`(${round((Date.now() - started) / 1000)} s)\n`)
      return value
    }
    const measured: Record<string, number> = {
      ...(await section(() => enqueueAndDrain(pg))),
      ...(await section(() => latency(pg))),
      backlog_ratio: await section(() => backlogRatio(pg, size)),
      ...(await section(() =>
        crashRecovery(pg, { count: 100, leaseMs: quick ? 5_000 : undefined }),
      )),
    }
    // Exactly the keys, in its order.
    const result = Object.fromEntries(resultKeys.map((key) => [key, measured[key]]))
    log(`\ntotal time ${round((Date.now() - began) / 1000)} s`)
    log(JSON.stringify(result, null, 2))
    if (!quick) {
      const file = fileURLToPath(new URL('./results/queue.json', import.meta.url))
      await writeFile(file, `${JSON.stringify(result, null, 2)}\n`)
      log(`written to ${file}`)
    }
  } finally {
    await pg.stop()
  }
}

/** Measurements 1 and 2: bulk enqueue, then drain what was enqueued; peers interleaved. */
async function enqueueAndDrain(pg: BenchPostgres): Promise<Record<string, number>> {
  log(
    `## 1–2. Bulk enqueue of ${size.jobs.toLocaleString('en')} jobs in batches of ${batch}, ` +
      `then drain them (no-op handler); ${size.rounds} rounds, peers interleaved, medians`,
  )
  const runs = new Map<PeerName, { enqueue: Timed[]; drain: Timed[] }>()
  for (let r = 0; r < size.rounds; r++) {
    for (const peer of peers) {
      // pg-boss drains at a fraction of the others' pace: one round keeps the run short.
      if (peer === 'pgboss' && r > 0) continue
      const database = `bench_${peer}`
      const url = pg.url(database)
      const mine = runs.get(peer) ?? { enqueue: [], drain: [] }
      runs.set(peer, mine)
      await pg.settle(database)
      mine.enqueue.push(
        await timed(pg, () => runTask({ name: 'bulkEnqueue', peer, url, total: size.jobs, batch })),
      )
      await pg.settle(database)
      mine.drain.push(
        await timed(pg, () => runTask({ name: 'drain', peer, url, total: size.jobs })),
      )
    }
  }
  const figure: Record<string, number> = {}
  for (const what of ['enqueue', 'drain'] as const) {
    for (const peer of peers) {
      const mine = runs.get(peer)![what]
      const figures = mine.map((run) => jps(size.jobs, run.seconds))
      figure[`${what}_jps_${peer}`] = median(figures)
      const cpu = median(mine.map((run) => ((run.nodeCpu + run.pgCpu) / size.jobs) * 1e6))
      log(
        `${what.padEnd(7)} ${peer.padEnd(8)} ${String(median(figures)).padStart(6)} jobs/s ` +
          `(runs ${figures.join(', ')}; CPU ${round(cpu, 1)} µs/job, Node + Postgres); ${mine[0]!.conditions}`,
      )
    }
  }
  const ratio = (a: string, b: string) => round(figure[a]! / figure[b]!, 2)
  log(
    `drain: hookline/graphile ${ratio('drain_jps_hookline', 'drain_jps_graphile')}× (target ≥ 1.25), ` +
      `hookline/pg-boss ${ratio('drain_jps_hookline', 'drain_jps_pgboss')}× (target ≥ 5)`,
  )
  log(
    `enqueue: hookline/graphile ${ratio('enqueue_jps_hookline', 'enqueue_jps_graphile')}×, ` +
      `hookline/pg-boss ${ratio('enqueue_jps_hookline', 'enqueue_jps_pgboss')}×`,
  )
  return figure
}

/** Measurement 3: one job at a time, add → handler start. graphile-worker alongside for context. */
async function latency(pg: BenchPostgres): Promise<Record<string, number>> {
  log(`## 3. Unloaded latency: ${size.latency} jobs added one at a time, add → handler start`)
  const figure: Record<string, number> = {}
  for (const peer of ['hookline', 'graphile'] as const) {
    await pg.settle(`bench_${peer}`)
    const run = await runTask({
      name: 'latency',
      peer,
      url: pg.url(`bench_${peer}`),
      count: size.latency,
    })
    const p50 = round(percentile(run.samplesMs!, 50), 2)
    const p99 = round(percentile(run.samplesMs!, 99), 2)
    const note = peer === 'hookline' ? 'target p50 ≤ 3, p99 ≤ 10' : 'for context'
    log(`${peer.padEnd(8)} p50 ${p50} ms, p99 ${p99} ms (${note}); ${run.conditions}`)
    if (peer === 'hookline') {
      Object.assign(figure, {
        latency_p50_ms: p50,
        latency_p99_ms: p99,
        queue_add_to_start_p50_ms: p50,
        queue_add_to_start_p99_ms: p99,
      })
    }
  }
  log(
    'pg-boss  not measured: v10 has no LISTEN/NOTIFY, a new job waits for the next poll (≥ 0.5 s)',
  )
  return figure
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`benchmark failed: ${err?.stack ?? err}\n`)
    process.exit(1)
  },
)
