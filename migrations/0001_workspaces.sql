-- Workspaces (tenants) and their API keys.
-- Ids are text with a type prefix and a time-ordered body (see src/ids.ts), so
-- "newest first" is an index scan on the primary key.

create table workspaces (
  id          text primary key,
  name        text not null,
  external_id text,
  webhooks_enabled boolean not null default true,
  retention_days   integer not null default 30 check (retention_days between 1 and 3650),
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);

create unique index workspaces_external_id_key on workspaces (external_id) where external_id is not null;

create table api_keys (
  id           text primary key,
  workspace_id text not null references workspaces (id) on delete cascade,
  name         text not null,
  -- The visible start of the key (hl_xxxxxxxx), shown in lists so people can tell keys apart.
  prefix       text not null,
  -- sha256 of the whole key. Keys carry 190 bits of randomness, so a fast
  -- hash is enough; a slow KDF would only cost latency on every request.
  key_hash     bytea not null,
  created_at   timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);

create unique index api_keys_key_hash_key on api_keys (key_hash);
create index api_keys_workspace_id_idx on api_keys (workspace_id, id desc);
