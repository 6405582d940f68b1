-- Mass posts: one rule run over a list of records, previewed record by record,
-- then posted in the background with progress and a per-record outcome.

create table mass_posts (
  id           text primary key,
  workspace_id text not null references workspaces (id) on delete cascade,
  rule_id      text references rules (id) on delete set null,
  status       text not null check (status in ('draft', 'posting', 'posted', 'cancelled')),
  total        integer not null,
  -- Items up to this index have their delivery; the dispatch job resumes from here.
  dispatched   integer not null default 0,
  created_at   timestamptz not null default now(),
  started_at   timestamptz,
  finished_at  timestamptz
);
create index mass_posts_workspace_idx on mass_posts (workspace_id, id desc);

create table mass_post_items (
  mass_post_id text not null references mass_posts (id) on delete cascade,
  idx          integer not null,
  record       jsonb not null,
  delivery_id  text,
  primary key (mass_post_id, idx)
);

create index deliveries_mass_post_idx on deliveries (mass_post_id) where mass_post_id is not null;
