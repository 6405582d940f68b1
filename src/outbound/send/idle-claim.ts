import type { DeliveryRow } from '../../db/tables/deliveries.js'
import type { RuleRow } from '../../db/tables/rules.js'
import type { IdleClaim, Job } from '../../queue/types.js'
import { openSecretRow } from '../../settings/signing-secrets.js'
import { DELIVERY_JOB } from '../deliveries/schedule.js'
import { type EventRecordColumns, eventRecord } from '../events/event-record.js'
import type { AttemptWorkspace } from './attempt-rounds.js'
import type { DeliveryEngine } from './engine.js'

/**
 * The worker's claim when a notification finds it idle (see
 * WorkerOptions.idleClaim): the jobs, and beside each `delivery.send` job
 * what its attempts read first — its open deliveries with their records,
 * and its workspace, rule and signing secrets — in the claim's own
 * statement. Between the NOTIFY and the HTTP call there is then one round
 * trip, where the claim and then the attempt rounds' delivery and context
 * statements took two, with a turn of the event loop between them.
 *
 * The deliveries are read FOR SHARE: the statement's snapshot is taken
 * before claim_jobs takes the job, and a delivery changed in between (a
 * cancel that committed just before the claim took its job) must be read as
 * it is now, not as the snapshot saw it; a locking read re-reads a row
 * changed since its snapshot. Only a notification's few jobs are read this
 * way, so the locks cost little; a busy worker's claims stay plain and its
 * attempts read in shared rounds. A delivery whose batch is still open is
 * not read here: closing it is a write, left to the rounds' claim.
 *
 * The deliveries are looked up by id (`id = any(array(...))`, their primary
 * keys, pruned to their partitions), whatever the planner guesses for the
 * claimed jobs: a join on job_id could hash the whole table.
 *
 * JSON carries the rows (a claim returns one row per job); the dates and
 * bytes in them are restored by `fromJson`.
 */
export const idleDeliveryClaim: IdleClaim = {
  name: 'hookline_claim_jobs_idle',
  text: `
with claimed as materialized (select * from claim_jobs($1, $2, $3, $4)),
listed as (
  select c.id as claimed_id, ids.id as delivery_id
  from claimed c,
    jsonb_array_elements_text(coalesce(c.payload -> 'deliveryIds',
      jsonb_build_array(c.payload -> 'deliveryId'))) as ids(id)
  where c.kind = '${DELIVERY_JOB}'
),
open as (
  select l.claimed_id, d.*
  from deliveries d
  join listed l on l.delivery_id = d.id and d.job_id = l.claimed_id::bigint
  where d.id = any(array(select delivery_id from listed))
    and d.status in ('queued', 'delivering') and not d.batch_open
  for share of d
)
select c.*, case when c.kind = '${DELIVERY_JOB}' then jsonb_build_object(
  'deliveries', (
    select coalesce(jsonb_agg((to_jsonb(o) - 'claimed_id') || jsonb_build_object('claimed_event',
      case when o.record is null and o.event_id is not null then
        (select jsonb_build_object('id', e.id, 'type', e.type, 'entity_type', e.entity_type,
          'entity_id', e.entity_id, 'fields', e.fields, 'created_at', e.created_at)
         from events e where e.id = o.event_id) end)), '[]'::jsonb)
    from open o where o.claimed_id = c.id),
  'workspace', (
    select jsonb_build_object('id', w.id, 'webhooks_enabled', w.webhooks_enabled,
      'crm_callback_url', w.crm_callback_url)
    from workspaces w where w.id = c.workspace_id),
  'rule', (select to_jsonb(r) from rules r where r.id = c.queue_key),
  'secrets', (
    select coalesce(jsonb_agg(jsonb_build_object('id', s.id, 'secret', encode(s.secret, 'base64'))
      order by s.created_at desc, s.id desc), '[]'::jsonb)
    from signing_secrets s
    where s.workspace_id = c.workspace_id and (s.expires_at is null or s.expires_at > now()))
) end as claim_read
from claimed c`,
}

/** What an idle claim read beside a job, ready for its attempts. */
export interface ClaimRead {
  /** The job's open deliveries, claimed for it (as the rounds' claim would give them). */
  deliveries: Map<string, DeliveryRow>
  /** Undefined when the workspace has no signing secret yet (the rounds make one). */
  context:
    | {
        workspaceId: string
        ruleId: string | null
        workspace: AttemptWorkspace | undefined
        rule: RuleRow | undefined
        secrets: string[]
      }
    | undefined
}

interface ReadJson {
  deliveries: (Record<string, unknown> & { claimed_event: ClaimedEvent | null })[]
  workspace: AttemptWorkspace | null
  rule: Record<string, unknown> | null
  secrets: { id: string; secret: string }[]
}
type ClaimedEvent = Omit<EventRecordColumns, 'created_at'> & { created_at: string }

/** The job's idle-claim read, or undefined when it was claimed by the plain statement. */
export function claimReadOf(engine: DeliveryEngine, job: Job): ClaimRead | undefined {
  const read = job.claimRead as ReadJson | null | undefined
  if (!read || !job.workspaceId) return undefined
  const deliveries = new Map<string, DeliveryRow>()
  for (const { claimed_event: event, ...row } of read.deliveries) {
    const delivery = fromJson<DeliveryRow>(row)
    if (delivery.record == null && event) {
      delivery.record = eventRecord({ ...event, created_at: new Date(event.created_at) })
    }
    deliveries.set(delivery.id, delivery)
  }
  const ruleId = job.queueKey
  const context =
    read.secrets.length === 0 && read.workspace
      ? undefined
      : {
          workspaceId: job.workspaceId,
          ruleId,
          workspace: read.workspace ?? undefined,
          rule: ruleId && read.rule ? fromJson<RuleRow>(read.rule) : undefined,
          secrets: read.workspace
            ? read.secrets.map((s) =>
                openSecretRow(engine.box, { id: s.id, secret: Buffer.from(s.secret, 'base64') }),
              )
            : [],
        }
  return { deliveries, context }
}

/**
 * A row as to_jsonb gave it, with the types the driver would have given:
 * timestamps (`…_at`, `…_since`) as dates, bytea (`\x…`) as bytes.
 */
function fromJson<T>(row: Record<string, unknown>): T {
  for (const [key, value] of Object.entries(row)) {
    if (typeof value !== 'string') continue
    if (key.endsWith('_at') || key.endsWith('_since')) row[key] = new Date(value)
    else if (BYTEA_COLUMNS.has(key)) row[key] = Buffer.from(value.slice(2), 'hex')
  }
  return row as T
}

// The bytea columns of the rows read here (rules.auth_secret).
const BYTEA_COLUMNS = new Set(['auth_secret'])
