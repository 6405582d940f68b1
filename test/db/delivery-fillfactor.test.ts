import { readFile } from 'node:fs/promises'
import t from 'tap'
import { migrationsDir } from '../../src/db/migrate.js'
import { build } from '../helpers/app.js'

// Delivery rows grow when their first attempt is written into them (0019),
// so their pages keep room for it: fillfactor 35 on every deliveries
// partition, and on the days made later (migrations/0021).
t.test('every deliveries partition, now and later, keeps room for its updates', async (t) => {
  const { database } = await build(t)
  const { pool } = database
  const fillfactors = async () =>
    (
      await pool.query<{ relname: string; reloptions: string[] | null }>(
        `select c.relname, c.reloptions from pg_inherits i join pg_class c on c.oid = i.inhrelid
         where i.inhparent = 'deliveries'::regclass order by 1`,
      )
    ).rows
  const check = async (when: string) => {
    const parts = await fillfactors()
    t.ok(parts.length > 0, `${when}: partitions exist`)
    for (const part of parts) t.same(part.reloptions, ['fillfactor=35'], `${when}: ${part.relname}`)
  }
  await check('fresh')
  // A database partitioned before 0021 ran: the migration's other branch.
  await pool.query(`update hookline_partitioned set storage = 'fillfactor=50'
    where table_name = 'deliveries'`)
  for (const { relname } of await fillfactors()) {
    await pool.query(`alter table ${relname} set (fillfactor = 50)`)
  }
  await pool.query(await readFile(`${migrationsDir}/0021_delivery_fillfactor.sql`, 'utf8'))
  await check('upgraded')
  await pool.query(
    `select hookline_create_partition('deliveries', (now() at time zone 'UTC')::date + 30)`,
  )
  await check('a day made later')
})
