/**
 * `npm run bench:limits`: what the caps and rate limits shared across worker
 * processes (src/outbound/send/shared-limits.ts) cost per delivery.
 *
 * Three limiters, as three worker processes would have, each with 50 lanes,
 * send to 8 rules in 4 workspaces at 4 hosts through the same calls the
 * delivery path makes (`acquireSoon`, the send, `release`); a send is a
 * 2 ms wait, a receiver answering at once. Run once with limiters local to
 * the process (as before), once shared through PostgreSQL. Prints, per
 * send: statements to PostgreSQL, the cluster's CPU, this process's CPU.
 * Then times `takeToken` of a rate-limited rule (one statement a send).
 * At the caps: a rule 10, a host 16, a workspace 25 (WORKER_CONCURRENCY 50),
 * across the three together when shared; under them: caps of 200.
 */
import { writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { connectDatabase } from '../src/db/database.js'
import { migrate } from '../src/db/migrate.js'
import { FairnessLimiter, type Slot } from '../src/outbound/send/fairness.js'
import { startBenchPostgres } from './lib/postgres.js'
import { round } from './lib/stats.js'

const SENDS = Number(process.env.LIMITS_SENDS ?? 30_000)
const WORKERS = 3
const LANES = 50
const SEND_MS = 2
const caps = { perRule: 10, perHost: 16, perWorkspace: 25 }
// Caps no send reaches: what sharing costs when nothing is refused.
const roomy = { perRule: 200, perHost: 200, perWorkspace: 200 }

const slots: Slot[] = Array.from({ length: 8 }, (_, i) => ({
  rule: `rule-${i}`,
  workspace: `ws-${i % 4}`,
  host: `host-${i % 4}:443`,
}))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function main() {
  const pg = await startBenchPostgres()
  const url = await pg.createDatabase('bench_limits')
  const database = connectDatabase(url, { max: 20 })
  await migrate(database.pool)
  const results: Record<string, unknown> = {}
  try {
    for (const [scenario, mode] of [
      ['at the caps', 'local'],
      ['at the caps', 'shared'],
      ['under the caps', 'local'],
      ['under the caps', 'shared'],
    ] as const) {
      const limits = scenario === 'at the caps' ? caps : roomy
      const limiters = Array.from(
        { length: WORKERS },
        () =>
          new FairnessLimiter({
            ...limits,
            shared: mode === 'shared' ? { db: database.db } : undefined,
          }),
      )
      for (const limiter of limiters) limiter.start()
      let started = 0
      let sent = 0
      let refused = 0
      const cpuBefore = process.cpuUsage()
      const pgBefore = pg.cpuSeconds()
      const at = performance.now()
      const lane = async (limiter: FairnessLimiter) => {
        while (started < SENDS) {
          const slot = slots[started++ % slots.length]!
          if (!(await limiter.acquireSoon(slot, 250))) {
            // Put off, as a send at a full cap is: back to the queue.
            refused++
            started--
            await sleep(5)
            continue
          }
          await sleep(SEND_MS)
          limiter.release(slot)
          sent++
        }
      }
      await Promise.all(
        limiters.flatMap((limiter) => Array.from({ length: LANES }, () => lane(limiter))),
      )
      const seconds = (performance.now() - at) / 1000
      const cpu = process.cpuUsage(cpuBefore)
      const pgCpu = pg.cpuSeconds() - pgBefore
      const statements = limiters.reduce((n, l) => n + (l.shared?.slots.statements ?? 0), 0)
      for (const limiter of limiters) await limiter.stop()
      const figures = {
        sends: sent,
        seconds: round(seconds, 2),
        sends_per_second: Math.round(sent / seconds),
        put_off: refused,
        statements,
        statements_per_send: round(statements / sent, 4),
        postgres_cpu_us_per_send: round((pgCpu * 1e6) / sent, 1),
        node_cpu_us_per_send: round((cpu.user + cpu.system) / sent, 1),
      }
      results[`${scenario}, ${mode}`] = figures
      process.stdout.write(`${scenario}, ${mode}: ${JSON.stringify(figures)}\n`)
    }

    // A rate-limited rule: one statement per send, whatever the workers.
    const limiter = new FairnessLimiter({ ...caps, shared: { db: database.db } })
    const TOKENS = 5000
    const pgBefore = pg.cpuSeconds()
    const cpuBefore = process.cpuUsage()
    const at = performance.now()
    for (let i = 0; i < TOKENS; i += 10) {
      await Promise.all(Array.from({ length: 10 }, () => limiter.takeToken('rated', 10_000)))
    }
    const seconds = (performance.now() - at) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    const token = {
      tokens: TOKENS,
      wall_us_per_token_10_at_once: round((seconds * 1e6) / TOKENS, 1),
      postgres_cpu_us_per_token: round(((pg.cpuSeconds() - pgBefore) * 1e6) / TOKENS, 1),
      node_cpu_us_per_token: round((cpu.user + cpu.system) / TOKENS, 1),
    }
    results.rate_token = token
    process.stdout.write(`rate token: ${JSON.stringify(token)}\n`)
    const file = fileURLToPath(new URL('./results/limits.json', import.meta.url))
    await writeFile(
      file,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          cores: cpus().length,
          load_at_start: loadavg()[0],
          workers: WORKERS,
          lanes: LANES,
          send_ms: SEND_MS,
          caps,
          ...results,
        },
        null,
        2,
      )}\n`,
    )
  } finally {
    await database.close()
    await pg.stop()
  }
}

await main()
