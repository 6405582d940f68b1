-- The records of a batch after its first (the first is the delivery's own
-- entity_id), so GET /v1/deliveries?entity_id= finds a batch by any record it
-- carried. Written only when a record joins an open batch; read through the
-- (workspace_id, entity_id) index, as deliveries_entity_idx is.
create table delivery_batch_records (
  delivery_id  text not null,
  workspace_id text not null,
  entity_id    text not null,
  primary key (delivery_id, entity_id)
);
create index delivery_batch_records_entity_idx
  on delivery_batch_records (workspace_id, entity_id, delivery_id desc);

-- Batches already sent or open.
insert into delivery_batch_records (delivery_id, workspace_id, entity_id)
select d.id, d.workspace_id, e.r->>'entity_id'
from deliveries d
cross join lateral jsonb_array_elements(d.record) with ordinality as e(r, n)
where jsonb_typeof(d.record) = 'array' and e.n > 1 and e.r->>'entity_id' is not null
on conflict do nothing;

-- A delivery takes its batch records with it, as it takes its attempts (0009):
-- one statement per DELETE, no foreign key checked per row.
create or replace function hookline_deliveries_deleted() returns trigger
language plpgsql as $$
begin
  delete from delivery_attempts a using gone where a.delivery_id = gone.id;
  delete from delivery_batch_records b using gone where b.delivery_id = gone.id;
  return null;
end
$$;
