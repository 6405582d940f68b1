import { sql } from 'kysely'
import { LEASE_DOCUMENT_MAX, leaseNotification, takeIdleWorker } from '../../queue/idle-workers.js'
import { DELIVERY_JOB, insertQueued, JOB_MAX_ATTEMPTS } from '../deliveries/schedule.js'

/**
 * `queueOwnJobs` for a lone event's write (`ingest_one`) that leases the job
 * to an idle worker (src/queue/idle-workers.ts) when `lease` (one planned
 * delivery, due now: the caller checks) and a live idle worker is known, and
 * the job's document fits a notification. The document is the job as the
 * idle claim returns it (migrations/0051: the job's columns and `claim_read`,
 * its deliveries, event, workspace, rule and signing secrets), so the worker
 * sends at once, with no claim. Read in this statement's snapshot, which
 * the view check (`fresh`) already holds to the rules and catalog the event
 * was planned with; nothing can change the delivery before the statement
 * commits, and a cancel after it meets a leased job, as after an idle claim.
 *
 * Needs CTEs `planned` (PLANNED_COLUMNS and `job_id`, materialized) and
 * `recorded` (the event's row). Adds `queued`, `lease_doc`, `lessee` and
 * `jobs` (`(id, run_at, locked_by)`); `leasedNotification` is the NOTIFY of a
 * leased job, and `notifyWorkers` over `jobs where locked_by is null` the
 * usual one.
 */
export const queueOwnJobLeased = (lease: unknown) => sql`
    queued as (
      ${insertQueued(sql`p.job_id`)}
      from planned p
      returning *
    ),
    lease_doc as (
      select json_build_object('id', p.job_id::text, 'kind', ${DELIVERY_JOB}::text,
        'payload', jsonb_build_object('deliveryIds', jsonb_build_array(p.id)),
        'workspace_id', p.workspace_id, 'attempts', 1,
        'max_attempts', ${JOB_MAX_ATTEMPTS}::int, 'queue_key', p.rule_id, 'weight', 1,
        'claim_read', json_build_object(
          'deliveries', (select json_agg(q) from queued q),
          'events', (select json_agg(json_build_object('id', e.id, 'type', e.type,
            'entity_type', e.entity_type, 'entity_id', e.entity_id, 'fields', e.fields,
            'created_at', e.created_at)) from recorded e),
          'workspace', (
            select json_build_object('id', w.id, 'webhooks_enabled', w.webhooks_enabled,
              'crm_callback_url', w.crm_callback_url)
            from workspaces w where w.id = p.workspace_id),
          'rule', (select row_to_json(r) from rules r where r.id = p.rule_id),
          'secrets', (
            select coalesce(json_agg(json_build_object('id', s.id,
              'secret', encode(s.secret, 'base64')) order by s.created_at desc, s.id desc),
              '[]'::json)
            from signing_secrets s
            where s.workspace_id = p.workspace_id
              and (s.expires_at is null or s.expires_at > now()))))::text as t
      from planned p
    ),
    lessee as (${takeIdleWorker(
      lease,
      DELIVERY_JOB,
      sql`(select count(*) from planned) = 1
        and (select octet_length(t) from lease_doc where w.worker_id is not null)
          <= ${sql.lit(LEASE_DOCUMENT_MAX)}`,
    )}),
    jobs as (
      insert into jobs (id, kind, payload, workspace_id, queue_key, run_at, max_attempts, weight,
        attempts, locked_by, locked_until)
      overriding system value
      select p.job_id, ${DELIVERY_JOB}, jsonb_build_object('deliveryIds', jsonb_build_array(p.id)),
        p.workspace_id, p.rule_id, to_timestamp(p.run_at / 1000.0), ${JOB_MAX_ATTEMPTS}::int, 1,
        case when l.worker_id is null then 0 else 1 end, l.worker_id,
        now() + l.lease_ms * interval '1 millisecond'
      from planned p left join lessee l on true
      returning id, run_at, locked_by
    )`

/** The NOTIFY that hands a leased job to its worker (see queueOwnJobLeased). */
export const leasedNotification = leaseNotification(sql`(select t from lease_doc)`)
