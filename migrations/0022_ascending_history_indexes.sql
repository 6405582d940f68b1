-- The history indexes that end in `id desc` (deliveries by workspace, rule
-- and record; events by workspace and record) took every new row's id on
-- their leftmost leaf, since ids grow with time. A full leftmost page splits
-- in half, so these indexes were half empty and logged a split about every
-- hundred rows each (pg_walinspect in bench:deliver: about 300 B of WAL per
-- delivery in B-tree splits). In ascending order new ids go to the rightmost
-- leaf, whose split keeps it 90 % full. A scan reads an ascending index
-- backwards as fast, so `order by id desc` is served as before.
--
-- Found by definition rather than name (day partitions (0030, 0031) name
-- theirs): each is dropped and created again without `desc`, on the plain
-- table or on the partitioned one, which makes each partition's. Rebuilding
-- them holds the tables' locks until the migration commits.
do $$
declare
  r record;
begin
  for r in
    select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def
    from pg_index i join pg_class t on t.oid = i.indrelid
    where t.relname in ('deliveries', 'events')
      and t.relnamespace = current_schema()::regnamespace
      and not i.indisunique
      and pg_get_indexdef(i.indexrelid) like '% id DESC)%'
  loop
    execute format('drop index %s', r.name);
    execute replace(replace(r.def, ' ON ONLY ', ' ON '), ' id DESC)', ' id)');
  end loop;
end
$$;
