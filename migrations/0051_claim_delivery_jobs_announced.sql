-- The idle claim (0043) told which jobs woke it. A notification names the
-- least and greatest id of the jobs it announces (src/queue/enqueue.ts); an
-- idle worker passes the span of those it heard since its last claim, and
-- this claim takes, of the jobs in it, those still free and due, in id
-- order, up to the limit: a walk of the primary key over a few ids, where
-- claim_jobs walks jobs_runnable_idx from its oldest entry up to now(). That
-- walk also crosses the entries of jobs done lately that vacuum has not yet
-- removed: after a burst of 9,000 jobs, a lone event's idle claim took
-- 0.79 ms this way and 0.85 through claim_jobs (client time, interleaved,
-- load 5.7); on a clean table the two cost about the same.
--
-- Several idle workers hear the same notification: SKIP LOCKED and the
-- lease give the job to one of them, and the others come back with nothing,
-- as from claim_jobs. A due job nobody announced (a retry that came due, a
-- lapsed lease) is not taken here, whatever its age: a worker's sweep (its
-- timer, its poll) finds it through claim_jobs, as before. Without a span
-- (null: the worker heard a notification without ids, or has leftover
-- demand), the claim is claim_jobs'.
--
-- The announced claim is written out here, not a function of its own: each
-- call of a function from this one costs its own executor and settings.
-- The function of 0043 (four arguments) stays for workers of the version
-- before, during a rolling deploy.
create function claim_delivery_jobs(
  p_worker_id text,
  p_lease_ms float8,
  p_limit integer,
  p_kinds text[],
  p_from bigint,
  p_to bigint
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
  claim_read json
)
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  taken refcursor;
  j record;
  v_ids text[];
  v_lo text;
  v_hi text;
  v_deliveries json;
  v_event_ids text[];
  v_event_lo text;
  v_event_hi text;
begin
  if p_from is null then
    open taken for select * from claim_jobs(p_worker_id, p_lease_ms, p_limit, p_kinds);
  else
    -- The announced jobs that are still free and due, in id order. A job
    -- whose lease lapsed on its last attempt is left to claim_jobs, which
    -- buries it.
    open taken for
    with due as materialized (
      select q.id from jobs q
      where q.id between p_from and p_to
        and q.dead_at is null
        and greatest(q.run_at, q.locked_until) <= now()
        and (q.locked_until is null or q.attempts < q.max_attempts)
        and q.kind = any(p_kinds)
      order by q.id
      limit p_limit
      for update skip locked
    )
    update jobs
    set attempts = jobs.attempts + 1, locked_by = p_worker_id,
      locked_until = now() + p_lease_ms * interval '1 millisecond'
    where jobs.id = any(array(select due.id from due))
    returning jobs.id::text as id, jobs.kind, jobs.payload, jobs.workspace_id, jobs.attempts,
      jobs.max_attempts, jobs.queue_key, jobs.weight;
  end if;
  loop
    fetch taken into j;
    exit when not found;
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
      select coalesce(json_agg(d), '[]'::json),
        array_agg(d.event_id) filter (where d.record is null and d.event_id is not null),
        min(d.event_id) filter (where d.record is null),
        max(d.event_id) filter (where d.record is null)
      into v_deliveries, v_event_ids, v_event_lo, v_event_hi
      from deliveries d
      where d.id = any(v_ids) and d.id between v_lo and v_hi
        and d.job_id = j.id::bigint
        and d.status in ('queued', 'delivering') and not d.batch_open;
      claim_read := json_build_object(
        'deliveries', v_deliveries,
        'events', case when v_event_ids is null then '[]'::json else (
          select coalesce(json_agg(json_build_object('id', e.id, 'type', e.type,
            'entity_type', e.entity_type, 'entity_id', e.entity_id, 'fields', e.fields,
            'created_at', e.created_at)), '[]'::json)
          from events e
          where e.id = any(v_event_ids) and e.id between v_event_lo and v_event_hi) end,
        'workspace', (
          select json_build_object('id', w.id, 'webhooks_enabled', w.webhooks_enabled,
            'crm_callback_url', w.crm_callback_url)
          from workspaces w where w.id = j.workspace_id),
        'rule', (select row_to_json(r) from rules r where r.id = j.queue_key),
        'secrets', (
          select coalesce(json_agg(json_build_object('id', s.id,
            'secret', encode(s.secret, 'base64')) order by s.created_at desc, s.id desc), '[]'::json)
          from signing_secrets s
          where s.workspace_id = j.workspace_id
            and (s.expires_at is null or s.expires_at > now())));
    end if;
    return next;
  end loop;
  close taken;
end
$$;
