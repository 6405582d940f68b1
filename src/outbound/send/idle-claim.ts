import type { DeliveryRow } from '../../db/tables/deliveries.js'
import type { RuleRow } from '../../db/tables/rules.js'
import type { IdleClaim, Job } from '../../queue/types.js'
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
 * The statement is the function `claim_delivery_jobs` (migrations/0040,
 * 0041, 0043, 0051). Given the ids the notifications announced, it takes
 * those jobs by id (when still free and due), else what claim_jobs would.
 * It reads in statements of its own, after it took the jobs, so a delivery
 * changed before its job was taken (a cancel) is read as it is now; its
 * lookups are held to primary keys, its plans are generic from the first
 * call, and each opens only the day partitions its ids fall in. Only a
 * notification's few jobs are read this way; a busy worker's claims stay
 * plain and its attempts read in shared rounds. A delivery whose batch is
 * still open is not read here: closing it is a write, left to the rounds'
 * claim. A lone event's job may skip this claim altogether: its write can
 * lease it to an idle worker (events/lease-lone.ts).
 *
 * JSON carries the rows (a claim returns one row per job); the dates and
 * bytes in them are restored by `fromJson`.
 */
export const idleDeliveryClaim: IdleClaim = {
  name: 'hookline_claim_delivery_jobs_announced',
  text: 'select * from claim_delivery_jobs($1, $2, $3, $4, $5::bigint, $6::bigint)',
  announced: true,
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
  deliveries: Record<string, unknown>[]
  /** The events of the deliveries that keep no record of their own. */
  events: ClaimedEvent[]
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
  const events = new Map(read.events.map((event) => [event.id, event]))
  for (const row of read.deliveries) {
    const delivery = fromJson<DeliveryRow>(row)
    const event = delivery.event_id ? events.get(delivery.event_id) : undefined
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
                engine.rounds.opened({ id: s.id, secret: Buffer.from(s.secret, 'base64') }),
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
