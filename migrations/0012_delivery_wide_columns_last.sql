-- A delivery row is written three times (queued, delivering, finished), and
-- the two updates are HOT: the new version lands on the same page, where
-- PostgreSQL logs only the bytes between the longest unchanged prefix and the
-- longest unchanged suffix of the row. `record` (the event's fields, the
-- widest column, never changed once sending starts) sat between `status` and
-- `updated_at`, both changed by every update, so each update logged the whole
-- record again: about 700 bytes of WAL per delivery in bench:deliver. The
-- table is rebuilt with the columns each update changes together in the
-- middle and `record` and `previous` last, where the unchanged suffix covers
-- them. The copy holds the table's lock until the migration commits, so a
-- long history takes a while to upgrade; nothing else changes.

-- The rows wait in a temporary copy while the table is created again under
-- its own name, so its constraints and indexes keep the names they had.
create temporary table deliveries_copy on commit drop as select * from deliveries;
drop table deliveries;

create table deliveries (
  id              text primary key,
  workspace_id    text not null,
  rule_id         text,
  kind            text not null check (kind in ('rule', 'notice')),
  event_id        text,
  event_type      text,
  entity_type     text,
  entity_id       text,
  mass_post_id    text,
  max_attempts    integer not null,
  created_at      timestamptz not null default now(),
  -- What the updates change.
  status          text not null check (status in ('queued', 'delivering', 'succeeded', 'failed', 'cancelled')),
  batch_open      boolean not null default false,
  attempts        integer not null default 0,
  next_attempt_at timestamptz,
  job_id          bigint,
  response_status integer,
  last_error      text,
  updated_at      timestamptz not null default now(),
  finished_at     timestamptz,
  response_mapped jsonb,
  -- Written at insert, read by every attempt, changed only while a batching
  -- window is open.
  record          jsonb not null,
  previous        jsonb
) with (fillfactor = 50);

insert into deliveries (id, workspace_id, rule_id, kind, event_id, event_type,
  entity_type, entity_id, mass_post_id, max_attempts, created_at, status, batch_open, attempts,
  next_attempt_at, job_id, response_status, last_error, updated_at, finished_at,
  response_mapped, record, previous)
select id, workspace_id, rule_id, kind, event_id, event_type, entity_type, entity_id,
  mass_post_id, max_attempts, created_at, status, batch_open, attempts, next_attempt_at, job_id,
  response_status, last_error, updated_at, finished_at, response_mapped, record, previous
from deliveries_copy;

-- Dropping the table took its indexes and its trigger. The trigger functions
-- of 0008 and 0009 name the table in their text, so they find this one.
create index deliveries_workspace_idx on deliveries (workspace_id, id desc);
create index deliveries_rule_idx on deliveries (workspace_id, rule_id, id desc)
  where rule_id is not null;
create index deliveries_entity_idx on deliveries (workspace_id, entity_id, id desc);
create index deliveries_event_idx on deliveries (event_id) where event_id is not null;
create index deliveries_open_batch_idx on deliveries (rule_id) where batch_open;
create index deliveries_mass_post_idx on deliveries (mass_post_id) where mass_post_id is not null;

create trigger deliveries_deleted after delete on deliveries
  referencing old table as gone
  for each statement execute function hookline_deliveries_deleted();
