-- An idle worker's claim (src/outbound/send/idle-claim.ts) as a function:
-- the jobs, and beside each `delivery.send` job its open deliveries (with the
-- event's record for those that keep none), its workspace, rule and
-- unexpired signing secrets, as one jsonb document per job. It was one
-- prepared statement; as a function:
--
-- - The reads come in a second statement, after claim_jobs has taken the
--   jobs. A volatile PL/pgSQL function takes a fresh snapshot for each of
--   its statements, so a change that committed before a job was taken (a
--   cancel, which locks the job's row) is seen. The statement's snapshot
--   predated the claim, and the deliveries were read FOR SHARE to see such a
--   change: a row lock and a WAL record per delivery, now gone.
-- - The lookups are held to primary keys whatever the tables' statistics say
--   (seqscan and bitmapscan off while it runs, as claim_jobs does): a day's
--   partition analyzed when nearly empty made a generic plan that scans it.
-- - The plan is generic from the first call (plan_cache_mode): a custom plan
--   of this statement over every day's partitions cost 4 to 20 ms of
--   planning, five times on each new pool connection before the generic plan
--   was chosen, which was most of the claim's slowest one percent.
-- - The events are read by the list of their ids, each partition searched
--   once for all of them, not once per delivery.
create function claim_delivery_jobs(
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
  taken bigint[];
begin
  select array_agg(c.id::bigint) into taken
  from claim_jobs(p_worker_id, p_lease_ms, p_limit, p_kinds) c;
  if taken is null then
    return;
  end if;
  -- A fresh snapshot: it sees every change committed before the jobs were taken.
  return query
  with claimed as materialized (
    select j.* from jobs j where j.id = any(taken)
  ),
  listed as (
    select c.id as claimed_id, ids.id as delivery_id
    from claimed c,
      jsonb_array_elements_text(coalesce(c.payload -> 'deliveryIds',
        jsonb_build_array(c.payload -> 'deliveryId'))) as ids(id)
    where c.kind = 'delivery.send'
  ),
  open as materialized (
    select l.claimed_id, d.*
    from deliveries d
    join listed l on l.delivery_id = d.id and d.job_id = l.claimed_id
    where d.id = any(array(select delivery_id from listed))
      and d.status in ('queued', 'delivering') and not d.batch_open
  ),
  read_events as (
    select e.id, jsonb_build_object('id', e.id, 'type', e.type, 'entity_type', e.entity_type,
      'entity_id', e.entity_id, 'fields', e.fields, 'created_at', e.created_at) as doc
    from events e
    where e.id = any(array(select o.event_id from open o
      where o.record is null and o.event_id is not null))
  )
  select c.id::text, c.kind, c.payload, c.workspace_id, c.attempts, c.max_attempts,
    c.queue_key, c.weight,
    case when c.kind = 'delivery.send' then jsonb_build_object(
      'deliveries', (
        select coalesce(jsonb_agg((to_jsonb(o) - 'claimed_id')
          || jsonb_build_object('claimed_event', ev.doc)), '[]'::jsonb)
        from open o left join read_events ev on ev.id = o.event_id
        where o.claimed_id = c.id),
      'workspace', (
        select jsonb_build_object('id', w.id, 'webhooks_enabled', w.webhooks_enabled,
          'crm_callback_url', w.crm_callback_url)
        from workspaces w where w.id = c.workspace_id),
      'rule', (select to_jsonb(r) from rules r where r.id = c.queue_key),
      'secrets', (
        select coalesce(jsonb_agg(jsonb_build_object('id', s.id,
          'secret', encode(s.secret, 'base64')) order by s.created_at desc, s.id desc), '[]'::jsonb)
        from signing_secrets s
        where s.workspace_id = c.workspace_id and (s.expires_at is null or s.expires_at > now()))
    ) end
  from claimed c;
end
$$;
