-- Sending limits shared by every worker process. Before, a rule's rate limit
-- and the per-rule, per-host and per-workspace concurrency caps held inside
-- one process: four workers sent four times a rule's rate and held four times
-- a host's cap.
--
-- Caps: each worker holds a number of a cap's slots (`held`) in a row of its
-- own, leased (`expires_at`) and renewed every second while it lives. It
-- starts sends against what it holds without asking again, gives back what
-- it no longer uses at each renewal, and asks for more (hookline_hold_slots)
-- only when it runs short. A worker killed with -9 stops renewing and its
-- slots come back when the lease lapses; its requests died with it.
create table send_slot_holds (
  key text not null,
  worker_id text not null,
  held integer not null check (held >= 0),
  expires_at timestamptz not null,
  primary key (key, worker_id)
);
create index send_slot_holds_worker_idx on send_slot_holds (worker_id);

-- Sets what `p_worker` holds of each cap `p_keys[i]` to `p_wants[i]`, or to
-- what the others leave of `p_caps[i]` if less; answers what it now holds.
-- The caps' advisory locks (taken in key order, so two callers never wait on
-- each other in a cycle) make callers for one cap take turns, and each
-- statement after them reads what the one before committed.
create function hookline_hold_slots(
  p_worker text, p_keys text[], p_caps integer[], p_wants integer[], p_lease_ms integer
) returns table (key text, held integer)
language plpgsql as $$
#variable_conflict use_column
declare
  k text;
begin
  for k in select distinct u.k from unnest(p_keys) as u(k) order by 1 loop
    perform pg_advisory_xact_lock(hashtext('hookline-send-slots'), hashtext(k));
  end loop;
  return query
  with wanted as (
    select w.key, w.cap, w.want from unnest(p_keys, p_caps, p_wants) as w(key, cap, want)
  ),
  others as (
    select h.key, sum(h.held)::integer as used
    from send_slot_holds h
    where h.key = any(p_keys) and h.worker_id <> p_worker and h.expires_at > clock_timestamp()
    group by h.key
  ),
  granted as (
    insert into send_slot_holds as h (key, worker_id, held, expires_at)
    select w.key, p_worker, greatest(0, least(w.want, w.cap - coalesce(o.used, 0))),
      clock_timestamp() + p_lease_ms * interval '1 millisecond'
    from wanted w left join others o on o.key = w.key
    on conflict on constraint send_slot_holds_pkey
    do update set held = excluded.held, expires_at = excluded.expires_at
    returning h.key, h.held
  )
  select g.key, g.held from granted g;
end $$;

-- A rule's rate limit: one token bucket per rule for every worker. `tokens`
-- as of `at`; it refills at the rule's rate up to its burst.
create table send_rate_buckets (
  key text primary key,
  tokens double precision not null,
  at timestamptz not null
);

-- Takes a token from `p_key`'s bucket: answers 0 when one was taken, else
-- the milliseconds until one will be there. The row lock makes takers of one
-- bucket take turns, each reading what the one before wrote.
create function hookline_take_token(p_key text, p_rate double precision, p_burst double precision)
returns integer
language plpgsql as $$
declare
  t double precision;
begin
  select least(p_burst, b.tokens + extract(epoch from clock_timestamp() - b.at) * p_rate)
  into t from send_rate_buckets b where b.key = p_key for update;
  if not found then
    insert into send_rate_buckets (key, tokens, at) values (p_key, p_burst, clock_timestamp())
    on conflict do nothing;
    select least(p_burst, b.tokens + extract(epoch from clock_timestamp() - b.at) * p_rate)
    into t from send_rate_buckets b where b.key = p_key for update;
  end if;
  if t >= 1 then
    update send_rate_buckets set tokens = t - 1, at = clock_timestamp() where key = p_key;
    return 0;
  end if;
  update send_rate_buckets set tokens = t, at = clock_timestamp() where key = p_key;
  return ceil((1 - t) / p_rate * 1000)::integer;
end $$;
