-- Outbound webhooks: workspace settings, catalogs, rules, events, deliveries and their attempts.

alter table workspaces
  add column crm_callback_url text,
  add column crm_lookup_url text;

-- Signing secrets, encrypted (src/security/secret-box.ts). The current secret
-- has expires_at null; a rotated-out one keeps signing until expires_at, so
-- receivers can switch over without dropping a delivery.
create table signing_secrets (
  id           text primary key,
  workspace_id text not null references workspaces (id) on delete cascade,
  secret       bytea not null,
  created_at   timestamptz not null default now(),
  expires_at   timestamptz
);
create index signing_secrets_workspace_idx on signing_secrets (workspace_id, created_at desc);

create table event_types (
  workspace_id text not null references workspaces (id) on delete cascade,
  name         text not null,
  description  text not null default '',
  schema       jsonb,
  sample       jsonb,
  archived     boolean not null default false,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  primary key (workspace_id, name)
);

create table fields (
  workspace_id text not null references workspaces (id) on delete cascade,
  key          text not null,
  label        text not null,
  type         text not null,
  entity       text not null,
  primary key (workspace_id, key)
);

create table rules (
  id                text primary key,
  workspace_id      text not null references workspaces (id) on delete cascade,
  title             text not null,
  description       text not null default '',
  enabled           boolean not null default true,
  created_by        jsonb,
  event_types       text[] not null default '{}',
  conditions        jsonb,
  -- method, url, body format and template or pairs, headers, query options
  request           jsonb not null,
  auth_type         text not null default 'none',
  -- basic password / bearer token / custom header value, encrypted and bound to the row
  auth_secret       bytea,
  auth_public       jsonb,
  execution         jsonb not null,
  response          jsonb not null,
  notify_on_failure boolean not null default false,
  disabled_reason   text,
  -- Set by the first failure after a success; cleared by a success. A rule
  -- failing for longer than the workspace's limit is disabled.
  failing_since     timestamptz,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);
create index rules_workspace_idx on rules (workspace_id, id desc);
-- Matching an event is "enabled rules of this workspace whose trigger contains the type".
create index rules_trigger_idx on rules using gin (event_types) where enabled;

-- Which host automations use a rule; a referenced rule cannot be deleted.
create table rule_references (
  workspace_id text not null,
  rule_id      text not null references rules (id) on delete cascade,
  reference    text not null,
  name         text not null default '',
  created_at   timestamptz not null default now(),
  primary key (rule_id, reference)
);

create table events (
  id              text primary key,
  workspace_id    text not null references workspaces (id) on delete cascade,
  type            text not null,
  entity_type     text not null,
  entity_id       text not null,
  fields          jsonb not null,
  previous        jsonb,
  idempotency_key text,
  -- The first answer, replayed for a repeated idempotency key.
  answer          jsonb,
  created_at      timestamptz not null default now()
);
create unique index events_idempotency_key on events (workspace_id, idempotency_key)
  where idempotency_key is not null;
create index events_workspace_idx on events (workspace_id, id desc);
create index events_record_idx on events (workspace_id, entity_type, entity_id, id desc);

create table deliveries (
  id              text primary key,
  workspace_id    text not null references workspaces (id) on delete cascade,
  -- null for notices to the CRM callback, and after a rule is deleted
  rule_id         text references rules (id) on delete set null,
  kind            text not null check (kind in ('rule', 'notice')),
  event_id        text,
  event_type      text,
  entity_type     text,
  entity_id       text,
  status          text not null check (status in ('queued', 'delivering', 'succeeded', 'failed', 'cancelled')),
  -- The record the request is rendered from (or, for a batch, the list of them).
  record          jsonb not null,
  previous        jsonb,
  attempts        integer not null default 0,
  max_attempts    integer not null,
  next_attempt_at timestamptz,
  -- The job that may run the next attempt; any other job for this delivery is stale.
  job_id          bigint,
  -- A batching-window delivery still taking records (closed when sending starts).
  batch_open      boolean not null default false,
  mass_post_id    text,
  response_status integer,
  response_mapped jsonb,
  last_error      text,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  finished_at     timestamptz
);
create index deliveries_workspace_idx on deliveries (workspace_id, id desc);
create index deliveries_rule_idx on deliveries (workspace_id, rule_id, id desc);
create index deliveries_entity_idx on deliveries (workspace_id, entity_id, id desc);
create index deliveries_event_idx on deliveries (event_id);
create index deliveries_open_batch_idx on deliveries (rule_id) where batch_open;

create table delivery_attempts (
  id              bigint generated always as identity primary key,
  delivery_id     text not null references deliveries (id) on delete cascade,
  workspace_id    text not null,
  attempt         integer not null,
  request         jsonb not null,
  response_status integer,
  response_headers jsonb,
  response_body   text,
  duration_ms     integer not null,
  error           text,
  created_at      timestamptz not null default now()
);
create index delivery_attempts_delivery_idx on delivery_attempts (delivery_id, attempt);
