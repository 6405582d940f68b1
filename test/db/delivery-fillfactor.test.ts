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

// New ids are the largest: in ascending indexes they go to the rightmost leaf,
// which splits 90/10 rather than in half (migrations/0022).
t.test('history indexes on ids are ascending, partitions included', async (t) => {
  const { database } = await build(t)
  const { rows } = await database.pool.query<{ name: string; def: string }>(
    `select c.relname as name, pg_get_indexdef(i.indexrelid) as def
     from pg_index i join pg_class c on c.oid = i.indexrelid
     join pg_class r on r.oid = i.indrelid
     where r.relname like 'deliveries%' or r.relname like 'events%'`,
  )
  t.ok(rows.length > 0)
  t.same(
    rows.filter((row) => row.def.includes(' DESC')).map((row) => row.name),
    [],
    'no index in descending order',
  )
  t.ok(
    rows.some((row) => /\(rule_id, id\) WHERE \(rule_id IS NOT NULL\)/.test(row.def)),
    'the rule index kept its columns and predicate',
  )

  // A database partitioned before 0022 ran: its partitioned indexes are rebuilt.
  const { pool } = database
  const { rows: rule } = await pool.query<{ name: string }>(
    `select i.indexrelid::regclass::text as name from pg_index i
     where i.indrelid = 'deliveries'::regclass
       and pg_get_indexdef(i.indexrelid) like '%(rule_id, id)%'`,
  )
  await pool.query(`drop index ${rule[0]?.name}`)
  await pool.query(
    'create index deliveries_rule_desc on deliveries (workspace_id, rule_id, id desc) where rule_id is not null',
  )
  await pool.query(await readFile(`${migrationsDir}/0022_ascending_history_indexes.sql`, 'utf8'))
  const { rows: after } = await pool.query<{ def: string }>(
    `select pg_get_indexdef(i.indexrelid) as def from pg_index i join pg_class r on r.oid = i.indrelid
     where r.relname like 'deliveries%' and pg_get_indexdef(i.indexrelid) like '%rule_id%'`,
  )
  t.ok(after.length > 1, 'the partitions have theirs')
  t.notOk(
    after.some((row) => row.def.includes(' DESC')),
    'upgraded: ascending on the table and every partition',
  )
})

// A delivery without an entity (most inbound.record notices) is never looked
// up by entity, so the entity index leaves it out, on every day's partition
// (migrations/0038).
t.test(
  'the entity index of every deliveries partition holds only deliveries with an entity',
  async (t) => {
    const { database } = await build(t)
    const { pool } = database
    await pool.query(
      `select hookline_create_partition('deliveries', (now() at time zone 'UTC')::date + 30)`,
    )
    const { rows } = await pool.query<{ relname: string; indexdef: string }>(
      `select c.relname, x.indexdef from pg_inherits i join pg_class c on c.oid = i.inhrelid
       join pg_indexes x on x.tablename = c.relname
     where i.inhparent = 'deliveries'::regclass and x.indexdef like '%(workspace_id, entity_id, id)%'
     order by 1`,
    )
    const { rows: parts } = await pool.query(
      `select count(*)::int as n from pg_inherits where inhparent = 'deliveries'::regclass`,
    )
    t.equal(rows.length, parts[0].n, 'one entity index per partition')
    for (const row of rows) t.match(row.indexdef, /WHERE \(entity_id IS NOT NULL\)$/, row.relname)
  },
)
