import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { connectDatabase } from '../../src/db/database.js'
import { createWorker } from '../../src/queue/index.js'
import type { BenchPostgres } from './postgres.js'
import { round } from './stats.js'
import { runTask } from './tasks.js'

const log = (line = '') => process.stdout.write(`${line}\n`)

/**
 * Measurement 5: kill -9 a worker process (lib/crash-child.ts) holding
 * `count` leased jobs, with a second worker (default settings) already
 * running; time from the kill until all of them ran again there.
 */
export async function crashRecovery(
  pg: BenchPostgres,
  size: { count: number; leaseMs?: number },
): Promise<{ crash_recovery_s: number; crash_lost: number }> {
  const name = 'bench_crash'
  const url = pg.url(name)
  await pg.createDatabase(name)
  await runTask({ name: 'setup', peer: 'hookline', url })
  await pg.query(
    name,
    `insert into jobs (kind, payload)
    select 'work', jsonb_build_object('i', i) from generate_series(1, $1) as i`,
    [size.count],
  )
  const child = fork(
    fileURLToPath(new URL('./crash-child.ts', import.meta.url)),
    [url, String(size.count), ...(size.leaseMs ? [String(size.leaseMs)] : [])],
    { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  )
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve())
    child.once('exit', (code) => reject(new Error(`the crash child exited early (${code})`)))
  })
  child.removeAllListeners('exit')
  const { rows: held } = await pg.query(
    name,
    `select count(*)::int as n from jobs where locked_by = 'doomed'`,
  )

  const database = connectDatabase(url, { max: 5 })
  const ranAgain = new Set<string>()
  let lastAt = 0
  let allRan = () => {}
  const done = new Promise<void>((resolve) => {
    allRan = resolve
  })
  const survivor = createWorker({
    pool: database.pool,
    connectionString: url,
    concurrency: size.count,
    batchSize: size.count,
    handlers: {
      work: async (job) => {
        ranAgain.add(job.id)
        lastAt = Date.now()
        if (ranAgain.size === size.count) allRan()
      },
    },
  })
  await survivor.start()
  const killedAt = Date.now()
  child.kill('SIGKILL')
  // Far past the target: a job not run by then counts as lost.
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 90_000))])
  await survivor.stop()
  const { rows: left } = await pg.query(name, 'select count(*)::int as n from jobs')
  await database.close()

  const lost = size.count - ranAgain.size
  const seconds = lost === 0 ? round((lastAt - killedAt) / 1000, 2) : -1
  log(
    `## 5. Crash: kill -9 of a worker process holding ${held[0].n} leased jobs ` +
      `(lease ${size.leaseMs ?? 20_000} ms, renewed every third of it); ` +
      'a second worker with default settings already running',
  )
  log(
    `all ${ranAgain.size} ran again ${seconds} s after the kill (target ≤ 30 s); ` +
      `lost: ${lost}; left in the table: ${left[0].n}`,
  )
  return { crash_recovery_s: seconds, crash_lost: lost }
}
