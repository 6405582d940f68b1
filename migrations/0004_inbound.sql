-- Inbound webhooks: handlers (public endpoints), their calls, and the keys
-- that make a repeated call a duplicate (protection period) or a replay
-- (Standard Webhooks webhook-id).

create table handlers (
  id                    text primary key,
  workspace_id          text not null references workspaces (id) on delete cascade,
  title                 text not null,
  description           text not null default '',
  active                boolean not null default true,
  -- sha256 of the endpoint token (/in/<token>): the lookup key. Tokens carry
  -- 192 bits of randomness, so a fast hash is enough. Rotation overwrites it,
  -- so an old token stops working at once.
  token_hash            bytea not null,
  -- The token itself, encrypted and bound to the row, only to show the
  -- endpoint URL in the API; nothing looks a token up through it.
  token_sealed          bytea not null,
  token_rotated_at      timestamptz,
  methods               text[] not null,
  body_format           text not null check (body_format in ('auto', 'json', 'form', 'xml', 'multipart')),
  body_limit_bytes      integer not null check (body_limit_bytes > 0),
  parameters            jsonb not null default '[]',
  mapping               jsonb not null default '[]',
  entity_type           text,
  conditions            jsonb,
  protection_seconds    integer not null default 0 check (protection_seconds >= 0),
  protection_parameters text[] not null default '{}',
  -- The verification config without its secrets (shown in the API), and the
  -- whole config encrypted (used to verify).
  verification_public   jsonb not null,
  verification_sealed   bytea,
  response              jsonb not null,
  actions               jsonb not null default '[]',
  created_by            jsonb,
  created_at            timestamptz not null default now(),
  updated_at            timestamptz not null default now()
);
create unique index handlers_token_hash_key on handlers (token_hash);
create index handlers_workspace_idx on handlers (workspace_id, id desc);

-- One row per request to a handler, written before anything can fail. The id
-- is time-ordered and made from received_at, so "newest first" and time
-- ranges are ranges of the (handler_id, id) index. Room is left on each page
-- (fillfactor) so the outcome written after the record is a HOT update.
create table inbound_calls (
  id                 text primary key,
  workspace_id       text not null,
  handler_id         text not null references handlers (id) on delete cascade,
  method             text not null,
  headers            jsonb not null,
  query              jsonb not null,
  content_type       text,
  -- The first INBOUND_STORED_BODY_BYTES of the raw body; body_size is the whole.
  body               bytea,
  body_size          integer not null,
  source_address     text not null,
  received_at        timestamptz not null,
  -- 'received' while the call is being processed (or if the process stopped
  -- before it finished); one of the others once it has an outcome.
  outcome            text not null check (outcome in (
    'received', 'accepted', 'duplicate', 'filtered', 'inactive', 'rejected', 'invalid', 'error')),
  reason             text,
  params             jsonb,
  record             jsonb,
  -- GET: the record the CRM lookup returned.
  lookup             jsonb,
  notice_delivery_id text,
  -- Fulfillment actions run: [{ rule_id, delivery_id } | { rule_id, skipped }].
  actions            jsonb,
  response_status    integer,
  finished_at        timestamptz
) with (fillfactor = 80);
create index inbound_calls_handler_idx on inbound_calls (handler_id, id desc);

-- Claims on keys a handler may see once within a period: 'd:<sha256>' for the
-- protection period, 'r:<webhook-id>' for Standard Webhooks replays. Taken
-- with INSERT ... ON CONFLICT in the transaction that forwards the call, so
-- of two concurrent identical calls exactly one claims and is forwarded; an
-- expired claim is taken over in the same statement.
create table inbound_claims (
  handler_id text not null references handlers (id) on delete cascade,
  key        text not null,
  call_id    text not null,
  expires_at timestamptz not null,
  primary key (handler_id, key)
);
create index inbound_claims_expires_idx on inbound_claims (expires_at);
