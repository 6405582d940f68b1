import { type BenchPostgres, timed } from './postgres.js'
import { median, round } from './stats.js'
import { runTask } from './tasks.js'

const log = (line = '') => process.stdout.write(`${line}\n`)

/**
 * Measurement 4: drains `due` jobs from an empty table and from one with
 * `future` future-dated jobs of the same kind beside them, alternating the
 * two so a noisy neighbour hits both alike. Returns the ratio of the medians.
 */
export async function backlogRatio(
  pg: BenchPostgres,
  size: { due: number; future: number; repeats: number },
): Promise<number> {
  log(
    `## 4. Claim cost: drain ${size.due.toLocaleString('en')} due jobs, empty table vs ` +
      `${size.future.toLocaleString('en')} future-dated jobs (same kind) beside them; ` +
      `${size.repeats} alternating runs each, medians`,
  )
  const databases = { empty: 'bench_backlog_empty', full: 'bench_backlog_full' }
  for (const name of Object.values(databases)) {
    await pg.createDatabase(name)
    await runTask({ name: 'setup', peer: 'hookline', url: pg.url(name) })
  }
  await pg.query(
    databases.full,
    `insert into jobs (kind, payload, run_at)
    select 'noop', jsonb_build_object('i', i), now() + interval '1 day' + i * interval '1 second'
    from generate_series(1, $1) as i`,
    [size.future],
  )
  const figures = { empty: [] as number[], full: [] as number[] }
  const cpu = { empty: [] as number[], full: [] as number[] }
  for (let r = 0; r < size.repeats; r++) {
    for (const key of ['empty', 'full'] as const) {
      const name = databases[key]
      await pg.query(
        name,
        `insert into jobs (kind, payload, run_at)
        select 'noop', jsonb_build_object('i', i), now() - interval '1 second'
        from generate_series(1, $1) as i`,
        [size.due],
      )
      await pg.settle(name)
      const run = await timed(pg, () =>
        runTask({ name: 'drain', peer: 'hookline', url: pg.url(name), total: size.due }),
      )
      figures[key].push(Math.round(size.due / run.seconds))
      cpu[key].push(((run.nodeCpu + run.pgCpu) / size.due) * 1e6)
    }
  }
  const { rows } = await pg.query(databases.full, 'select count(*)::int as n from jobs')
  const empty = median(figures.empty)
  const full = median(figures.full)
  const ratio = round(full / empty, 3)
  log(
    `empty table   ${empty} jobs/s (runs: ${figures.empty.join(', ')}); ` +
      `CPU ${round(median(cpu.empty), 1)} µs/job`,
  )
  log(
    `with backlog  ${full} jobs/s (runs: ${figures.full.join(', ')}); ` +
      `CPU ${round(median(cpu.full), 1)} µs/job; ${rows[0].n.toLocaleString('en')} future jobs left as they were`,
  )
  log(`backlog_ratio ${ratio} (target ≥ 0.9)`)
  return ratio
}
