-- The idle claim (0040) reads in statements whose ids are known when each
-- starts, so that only the day partitions holding them are opened.
--
-- In 0040 the deliveries and events were found by `id = any(array(select
-- ...))`, a value computed while the statement runs: every day partition of
-- both tables (ten days of each, and their indexes) was opened and set up at
-- each claim, then left unread. An id array given as a parameter does not
-- help: PostgreSQL prunes partitions by `= any(...)` only for a constant
-- array. A range given as parameters does: `id between lo and hi` with lo and
-- hi the least and greatest id lets the executor drop, before it opens
-- anything, every partition outside the range (a lone event's: today's only).
-- So, for each job the claim took:
--
-- 1. its delivery ids from the payload, with their least and greatest;
-- 2. its open deliveries by those ids and range, with the least and greatest
--    id of the events whose record they do not keep;
-- 3. those events by ids and range, and the workspace, rule and secrets.
--
-- Each statement still takes a fresh snapshot after claim_jobs took the jobs
-- (see 0040). The events now come as a list of their own beside the
-- deliveries (`events`), not joined into each delivery (`claimed_event`),
-- which took a hash join and a sort. A worker of the version before, which
-- looks for `claimed_event`, reads such an event again by itself.
create or replace function claim_delivery_jobs(
  p_worker_id text,
  p_lease_ms float8,
  p_limit integer,
  p_kinds text[]
)
returns table (
  id text,
  kind text,
  payload jsonb,
  workspace_id text,
  attempts integer,
  max_attempts integer,
  queue_key text,
  weight integer,
  claim_read jsonb
)
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  j record;
  v_ids text[];
  v_lo text;
  v_hi text;
  v_deliveries jsonb;
  v_event_ids text[];
  v_event_lo text;
  v_event_hi text;
begin
  for j in select * from claim_jobs(p_worker_id, p_lease_ms, p_limit, p_kinds) loop
    id := j.id;
    kind := j.kind;
    payload := j.payload;
    workspace_id := j.workspace_id;
    attempts := j.attempts;
    max_attempts := j.max_attempts;
    queue_key := j.queue_key;
    weight := j.weight;
    claim_read := null;
    if j.kind = 'delivery.send' then
      select array_agg(x), min(x), max(x) into v_ids, v_lo, v_hi
      from jsonb_array_elements_text(coalesce(j.payload -> 'deliveryIds',
        jsonb_build_array(j.payload -> 'deliveryId'))) as x;
      -- A fresh snapshot: it sees every change committed before the jobs were taken.
      select coalesce(jsonb_agg(to_jsonb(d)), '[]'::jsonb),
        array_agg(d.event_id) filter (where d.record is null and d.event_id is not null),
        min(d.event_id) filter (where d.record is null),
        max(d.event_id) filter (where d.record is null)
      into v_deliveries, v_event_ids, v_event_lo, v_event_hi
      from deliveries d
      where d.id = any(v_ids) and d.id between v_lo and v_hi
        and d.job_id = j.id::bigint
        and d.status in ('queued', 'delivering') and not d.batch_open;
      claim_read := jsonb_build_object(
        'deliveries', v_deliveries,
        'events', case when v_event_ids is null then '[]'::jsonb else (
          select coalesce(jsonb_agg(jsonb_build_object('id', e.id, 'type', e.type,
            'entity_type', e.entity_type, 'entity_id', e.entity_id, 'fields', e.fields,
            'created_at', e.created_at)), '[]'::jsonb)
          from events e
          where e.id = any(v_event_ids) and e.id between v_event_lo and v_event_hi) end,
        'workspace', (
          select jsonb_build_object('id', w.id, 'webhooks_enabled', w.webhooks_enabled,
            'crm_callback_url', w.crm_callback_url)
          from workspaces w where w.id = j.workspace_id),
        'rule', (select to_jsonb(r) from rules r where r.id = j.queue_key),
        'secrets', (
          select coalesce(jsonb_agg(jsonb_build_object('id', s.id,
            'secret', encode(s.secret, 'base64')) order by s.created_at desc, s.id desc), '[]'::jsonb)
          from signing_secrets s
          where s.workspace_id = j.workspace_id
            and (s.expires_at is null or s.expires_at > now())));
    end if;
    return next;
  end loop;
end
$$;
