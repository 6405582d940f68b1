-- History stored once (issue 21). A delivery's first attempt that succeeds is
-- written into the delivery's own row: its response (status, headers, body),
-- when it was signed and sent, how long it took, and the version of the rule
-- it was rendered with. No attempt row, and no copy of the rendered request:
-- GET /v1/deliveries/{id} renders the request again from the delivery's
-- record (its event's) and that rule version, and signs it with the secrets
-- that were signing at `sent_at`. Failures and retries keep attempt rows with
-- the request as it was sent (they are few, and a failure is what gets read).
--
-- Every column added is nullable with no default: no rewrite of the table.

-- A rule's request and auth as they were when a delivery was rendered. A new
-- version is written whenever the request or the auth changes (a trigger, so
-- every way a rule is written is covered); other changes (enabled,
-- failing_since, title) keep the version. No foreign key: a deleted rule's
-- deliveries keep their history, and the versions with them.
create sequence rule_versions_id_seq as bigint;
create table rule_versions (
  id           bigint primary key default nextval('rule_versions_id_seq'),
  rule_id      text not null,
  workspace_id text not null,
  request      jsonb not null,
  auth_type    text not null,
  auth_public  jsonb,
  created_at   timestamptz not null default now()
);
alter sequence rule_versions_id_seq owned by rule_versions.id;
create index rule_versions_rule_idx on rule_versions (rule_id, id);

alter table rules add column version_id bigint;

insert into rule_versions (rule_id, workspace_id, request, auth_type, auth_public)
select id, workspace_id, request, auth_type, auth_public from rules;
update rules r set version_id = v.id from rule_versions v where v.rule_id = r.id;

create function hookline_rule_version() returns trigger
language plpgsql as $$
begin
  if tg_op = 'INSERT'
    or new.request is distinct from old.request
    or new.auth_type is distinct from old.auth_type
    or new.auth_public is distinct from old.auth_public
    or new.auth_secret is distinct from old.auth_secret then
    new.version_id := nextval('rule_versions_id_seq');
    insert into rule_versions (id, rule_id, workspace_id, request, auth_type, auth_public)
    values (new.version_id, new.id, new.workspace_id, new.request, new.auth_type, new.auth_public);
  else
    new.version_id := old.version_id;
  end if;
  return new;
end
$$;

create trigger rules_version before insert or update on rules
  for each row execute function hookline_rule_version();

-- The first attempt, when it succeeded, in the delivery's row. `sent_at` is
-- the signing time (webhook-timestamp) and says the row holds an attempt.
alter table deliveries
  add column sent_at timestamptz,
  add column duration_ms integer,
  add column rule_version_id bigint,
  add column response_headers jsonb,
  add column response_body text;

-- An attempt row whose request is null is shown rendered again, as above (a
-- first attempt moved out of its delivery's row when the delivery is resent).
alter table delivery_attempts
  alter column request drop not null,
  add column sent_at timestamptz,
  add column rule_version_id bigint;
