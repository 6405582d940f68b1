-- Deliveries and their attempts in daily partitions, as 0030 did for events
-- and inbound calls: deliveries by their id, attempts by their delivery's id
-- with the same bounds, so a day's deliveries and their attempts go together.
-- An attempt's key becomes (delivery_id, id). Each delivery partition keeps
-- the table's fillfactor, so its updates stay HOT (0006).
do $$
declare
  first_day date := greatest(coalesce((select min(created_at) from deliveries), now()), now() - interval '400 days');
begin
  perform hookline_partition_table('deliveries', 'id', 'dlv', first_day, 7);
  perform hookline_partition_table('delivery_attempts', 'delivery_id', 'dlv', first_day, 7);
end
$$;
