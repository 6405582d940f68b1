-- deliveries_entity_idx answers "this record's deliveries" (GET
-- /v1/deliveries?entity_id=), which always names an entity, so a delivery
-- without one needs no entry: most inbound.record notices (a lead form's
-- record has no CRM id yet) and workspace notices. `entity_id = $1` implies
-- `entity_id is not null`, so the planner still uses the index for every
-- such query. One index entry and its WAL fewer per such delivery
-- (bench:inbound: one per accepted call). The index is the partitioned
-- table's, so each day's partition gets it.
drop index deliveries_entity_idx;
create index deliveries_entity_idx on deliveries (workspace_id, entity_id, id)
  where entity_id is not null;
