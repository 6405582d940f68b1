-- History in daily partitions: events and inbound calls here, deliveries and
-- their attempts in 0031. Retention then drops a day's partition once every
-- workspace's horizon has passed it (src/retention/), where deleting its rows
-- one by one left vacuum the same work again.
--
-- Partitioned by id, not by time column: ids are time-ordered text (the
-- prefix, `_`, then 10 base32 characters of milliseconds; src/ids.ts), so a
-- day is the id range from the day's first id prefix to the next day's.
-- `primary key (id)` stays valid (a partitioned table's unique keys must hold
-- its partition key), a lookup by id reads one partition, and every
-- statement keeps the columns it names. Attempts go by their delivery's id,
-- with the same bounds as deliveries.
--
-- Each table has: `<t>_before` (everything older than its first day),
-- `<t>_pYYYYMMDD` for each UTC day, and `<t>_default` for ids past the last
-- day made (a worker creates days ahead; the default only keeps an insert
-- from failing when none ran). A day created later takes its rows out of the
-- default first.

-- The smallest id with this prefix made at `at`: every id made earlier sorts below it.
create function hookline_id_bound(prefix text, at timestamptz) returns text
language plpgsql immutable as $$
declare
  ms bigint := floor(extract(epoch from at) * 1000);
  digits text := '';
begin
  for i in 1..10 loop
    digits := substr('0123456789abcdefghjkmnpqrstvwxyz', (ms % 32)::int + 1, 1) || digits;
    ms := ms / 32;
  end loop;
  return prefix || '_' || digits;
end
$$;

-- The partitioned tables: which column holds the id, its prefix, and the
-- storage parameters each partition gets (a partitioned table keeps none).
create table hookline_partitioned (
  table_name text primary key,
  key_column text not null,
  id_prefix  text not null,
  storage    text not null default ''
);

-- The partition of `tbl` for the UTC day `day`, unless it exists. Answers
-- whether it made one.
create function hookline_create_partition(tbl text, day date) returns boolean
language plpgsql as $$
declare
  p hookline_partitioned;
  part text := tbl || '_p' || to_char(day, 'YYYYMMDD');
  lo text;
  hi text;
  stray boolean;
  storage text;
begin
  if to_regclass(part) is not null then
    return false;
  end if;
  select * into strict p from hookline_partitioned where table_name = tbl;
  lo := hookline_id_bound(p.id_prefix, day::timestamp at time zone 'UTC');
  hi := hookline_id_bound(p.id_prefix, (day + 1)::timestamp at time zone 'UTC');
  storage := case when p.storage = '' then '' else format('with (%s)', p.storage) end;
  execute format('select exists (select from %I where %I >= $1 and %I < $2)',
    tbl || '_default', p.key_column, p.key_column) into stray using lo, hi;
  if not stray then
    execute format('create table %I partition of %I for values from (%L) to (%L) %s',
      part, tbl, lo, hi, storage);
  else
    -- Rows written while no partition held the day: moved out of the
    -- default, then the table is attached (which checks the default again).
    execute format('create table %I (like %I including defaults including constraints) %s',
      part, tbl, storage);
    execute format('with moved as (delete from %I where %I >= $1 and %I < $2 returning *)
      insert into %I select * from moved', tbl || '_default', p.key_column, p.key_column, part)
      using lo, hi;
    execute format('alter table %I attach partition %I for values from (%L) to (%L)',
      tbl, part, lo, hi);
  end if;
  return true;
end
$$;

-- Every partitioned table's days from today (UTC) to `days_ahead` days on.
-- Answers how many partitions it made. Taken under one advisory lock, so
-- workers starting together do not race on the same names.
create function hookline_ensure_partitions(days_ahead integer) returns integer
language plpgsql as $$
declare
  made integer := 0;
  today date := (now() at time zone 'UTC')::date;
  t text;
begin
  perform pg_advisory_xact_lock(hashtext('hookline_ensure_partitions'));
  for t in select table_name from hookline_partitioned order by table_name loop
    for d in 0..days_ahead loop
      if hookline_create_partition(t, today + d) then
        made := made + 1;
      end if;
    end loop;
  end loop;
  return made;
end
$$;

-- Rebuilds `tbl` partitioned by range of `key_column`, rows and all, with the
-- same columns, defaults, checks, keys, indexes and triggers; no column is
-- named here, so it converts whatever the table holds when it runs. A unique
-- key without the partition key is widened to hold it (an attempt's id
-- becomes (delivery_id, id)); a unique index that is not a constraint cannot
-- be, and stops the migration. Days from `first_day` to `days_ahead` days
-- after today get their partition; older rows go to `<tbl>_before`.
create function hookline_partition_table(
  tbl text, key_column text, id_prefix text, first_day date, days_ahead integer
) returns void
language plpgsql as $$
declare
  storage text;
  keys text[];
  indexes text[];
  triggers text[];
  stmt text;
  col text;
  new_table text := tbl || '_partitioning';
  today date := (now() at time zone 'UTC')::date;
  d date;
begin
  if exists (select from pg_constraint where confrelid = tbl::regclass) then
    raise exception '%: a foreign key references it; partitioning does not handle that', tbl;
  end if;
  if exists (
    select from pg_index i where i.indrelid = tbl::regclass and i.indisunique
      and not exists (select from pg_constraint c where c.conindid = i.indexrelid)
  ) then
    raise exception '%: a unique index without its partition key cannot stay', tbl;
  end if;
  select coalesce(array_to_string(reloptions, ', '), '') into storage
  from pg_class where oid = tbl::regclass;

  -- Keys, with the partition key added where missing.
  select coalesce(array_agg(format('alter table %I add constraint %I %s (%s)', tbl, c.conname,
      case c.contype when 'p' then 'primary key' else 'unique' end,
      (select string_agg(quote_ident(cols.name), ', ' order by ord) from (
        select key_column as name, 0 as ord
        where not (key_column = any(array(select a.attname::text from pg_attribute a
          where a.attrelid = c.conrelid and a.attnum = any(c.conkey))))
        union all
        select a.attname, k.ord from unnest(c.conkey) with ordinality k(attnum, ord)
        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
      ) cols))), '{}')
  into keys
  from pg_constraint c where c.conrelid = tbl::regclass and c.contype in ('p', 'u');
  -- Other indexes and foreign keys, as written (they name `tbl`, which the new table takes).
  select coalesce(array_agg(pg_get_indexdef(i.indexrelid)), '{}') into indexes
  from pg_index i where i.indrelid = tbl::regclass
    and not exists (select from pg_constraint c where c.conindid = i.indexrelid);
  select indexes || coalesce(array_agg(format('alter table %I add constraint %I %s', tbl,
      conname, pg_get_constraintdef(oid))), '{}') into indexes
  from pg_constraint where conrelid = tbl::regclass and contype = 'f';
  select coalesce(array_agg(pg_get_triggerdef(oid)), '{}') into triggers
  from pg_trigger where tgrelid = tbl::regclass and not tgisinternal;

  execute format('create table %I (like %I including defaults including constraints
    including generated including identity including comments including storage
    including compression) partition by range (%I)', new_table, tbl, key_column);
  insert into hookline_partitioned (table_name, key_column, id_prefix, storage)
  values (tbl, key_column, id_prefix, storage);
  stmt := case when storage = '' then '' else format('with (%s)', storage) end;
  execute format('create table %I partition of %I for values from (minvalue) to (%L) %s',
    tbl || '_before', new_table,
    hookline_id_bound(id_prefix, least(first_day, today)::timestamp at time zone 'UTC'), stmt);
  execute format('create table %I partition of %I default %s', tbl || '_default', new_table, stmt);
  d := least(first_day, today);
  while d <= today + days_ahead loop
    execute format('create table %I partition of %I for values from (%L) to (%L) %s',
      tbl || '_p' || to_char(d, 'YYYYMMDD'), new_table,
      hookline_id_bound(id_prefix, d::timestamp at time zone 'UTC'),
      hookline_id_bound(id_prefix, (d + 1)::timestamp at time zone 'UTC'), stmt);
    d := d + 1;
  end loop;

  execute format('insert into %I overriding system value select * from %I', new_table, tbl);
  execute format('drop table %I', tbl);
  execute format('alter table %I rename to %I', new_table, tbl);
  -- An identity column's new sequence carries on from the old one.
  for col in select a.attname from pg_attribute a
    where a.attrelid = tbl::regclass and a.attidentity <> ''
  loop
    execute format('select setval(pg_get_serial_sequence(%L, %L), coalesce(max(%I), 0) + 1, false) from %I',
      tbl, col, col, tbl);
  end loop;
  -- Built once over the copied rows, not entry by entry.
  foreach stmt in array keys || indexes || triggers loop
    execute stmt;
  end loop;
  execute format('analyze %I', tbl);
end
$$;

-- Events: the idempotency key moves to a table of its own, since a unique
-- index on a partitioned table must hold the partition key and
-- (workspace_id, idempotency_key) would no longer arbitrate. A key is held
-- 24 hours (0011); the hourly purge drops older rows, and a new event takes
-- over a row older than that in the statement that records it
-- (src/outbound/events/insert-events.ts). The event keeps its key for history.
create table event_idempotency_keys (
  workspace_id text not null,
  key          text not null,
  event_id     text not null,
  created_at   timestamptz not null default now(),
  primary key (workspace_id, key)
);
create index event_idempotency_keys_created_at on event_idempotency_keys (created_at);

insert into event_idempotency_keys (workspace_id, key, event_id, created_at)
select workspace_id, idempotency_key, id, created_at from events
where idempotency_key is not null and created_at > now() - interval '24 hours';

drop index events_idempotency_key;

-- The days of existing history get partitions of their own (up to 400 back;
-- anything older waits in `_before` and goes row by row, as before).
do $$
declare
  events_from date := greatest(coalesce((select min(created_at) from events), now()), now() - interval '400 days');
  calls_from date := greatest(coalesce((select min(received_at) from inbound_calls), now()), now() - interval '400 days');
begin
  perform hookline_partition_table('events', 'id', 'evt', events_from, 7);
  perform hookline_partition_table('inbound_calls', 'id', 'cal', calls_from, 7);
end
$$;
