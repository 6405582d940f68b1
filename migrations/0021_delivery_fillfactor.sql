-- A first attempt that succeeds now writes its response into the delivery's
-- row (0019) while the row no longer carries a record (0020): the row is
-- small when inserted and about twice its size once finished. At fillfactor
-- 50 the pages filled with small rows had no room left for the grown
-- versions: bench:deliver saw a third of the success updates leave their
-- page (a new entry in each of the six indexes, and a lock record) instead
-- of staying HOT. 35 leaves room for them.
--
-- Run before deliveries is partitioned (0030, 0031 copy the table's storage
-- to each partition) or after (each partition and the partition template).
do $$
declare
  part text;
begin
  if (select relkind from pg_class where oid = 'deliveries'::regclass) = 'p' then
    update hookline_partitioned set storage = 'fillfactor=35' where table_name = 'deliveries';
    for part in
      select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'deliveries'::regclass
    loop
      execute format('alter table %I set (fillfactor = 35)', part);
    end loop;
  else
    alter table deliveries set (fillfactor = 35);
  end if;
end
$$;
