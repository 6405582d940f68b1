-- What single events are taken with (a workspace's switch, its catalog's
-- entries for the event's types, its enabled rules for them) changes only
-- when the workspace's row does: every write to its rules or its catalog now
-- also writes that row (a counter, so there is something to write), and a
-- write makes a new row version with a new xmin. POST /v1/events remembers
-- the view with that xmin and checks it with one index probe, where it read
-- xmin from the workspace, its catalog and each rule (~55 µs of a lone
-- event's write, four probes and their plan nodes).
--
-- A rule's failing_since is left out: the worker writes it on every failed
-- delivery, taking events never reads it, and writing the workspace's row
-- there would make concurrent failures of one workspace wait on each other.
alter table workspaces add column view_version bigint not null default 0;

create function hookline_ingest_view_changed() returns trigger
language plpgsql as $$
begin
  update workspaces set view_version = view_version + 1
  where id = case when tg_op = 'DELETE' then old.workspace_id else new.workspace_id end;
  if tg_op = 'UPDATE' and new.workspace_id is distinct from old.workspace_id then
    update workspaces set view_version = view_version + 1 where id = old.workspace_id;
  end if;
  return null;
end
$$;

create trigger rules_ingest_view_added after insert or delete on rules
  for each row execute function hookline_ingest_view_changed();
create trigger rules_ingest_view_changed after update on rules
  for each row
  when (to_jsonb(old) - 'failing_since' is distinct from to_jsonb(new) - 'failing_since')
  execute function hookline_ingest_view_changed();
create trigger event_types_ingest_view_changed after insert or update or delete on event_types
  for each row execute function hookline_ingest_view_changed();
