import { readdir } from 'node:fs/promises'
import t from 'tap'
import { migrate, migrationsDir, pendingMigrations } from '../../src/db/migrate.js'
import { emptyDatabase, quietPool } from '../helpers/database.js'

t.test('migrations apply once, in order, and a second run does nothing', async (t) => {
  const { pool } = await emptyDatabase(t)
  const files = (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).sort()
  t.same(await pendingMigrations(pool), files, 'a new database has every migration pending')

  const first = await migrate(pool)
  t.same(first.applied, files)
  const second = await migrate(pool)
  t.same(second.applied, [], 'idempotent')
  t.same(await pendingMigrations(pool), [])
  const { rows } = await pool.query('select name from hookline_migrations order by name')
  t.same(
    rows.map((r) => r.name),
    files,
  )
})

t.test('two processes migrating at once take turns', async (t) => {
  const { url } = await emptyDatabase(t)
  const pools = [quietPool(url), quietPool(url)]
  // Ended here, before emptyDatabase's teardown drops the database.
  const results = await Promise.all(pools.map((p) => migrate(p))).finally(() =>
    Promise.all(pools.map((p) => p.end())),
  )
  const applied = results.flatMap((r) => r.applied).sort()
  const files = (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).sort()
  t.same(applied, files, 'each migration applied by exactly one of them')
})

t.test('a failing migration rolls back and names itself', async (t) => {
  const { pool } = await emptyDatabase(t)
  const dir = t.testdir({
    '0001_ok.sql': 'create table a (id int);',
    '0002_broken.sql': 'create table b (id int); select nonsense from nowhere;',
  })
  await t.rejects(migrate(pool, dir), /migration 0002_broken\.sql failed/)
  const { rows } = await pool.query(`select to_regclass('b') as b, to_regclass('a') as a`)
  t.same(rows[0], { a: 'a', b: null }, 'the first stays, the broken one left nothing behind')
})
