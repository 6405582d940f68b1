import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import type { DeliveryRow } from '../../db/tables/deliveries.js'
import type { AttemptRequest, DeliveryAttemptRow } from '../../db/tables/delivery-attempts.js'
import { errors } from '../../errors.js'
import { decodeCursor, toPage } from '../../http/pagination.js'
import type { Delivery, DeliveryListQuery } from '../../schemas/deliveries.js'
import { NOTICE_MAX_ATTEMPTS } from '../send/notices.js'
import { type HistoryDeps, renderSentRequest, UNKNOWN_REQUEST } from '../send/sent-request.js'
import { deliveryRecords } from './delivery-repository.js'
import { cancelSoleJob, rescheduleDelivery } from './schedule.js'

const labels: Record<DeliveryRow['status'], string> = {
  queued: 'In Queue',
  delivering: 'Delivering',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
}

const DEFAULT_WINDOW_MS = 7 * 86_400_000

/**
 * A delivery as the API shows it. A queued one whose job holds its lease is
 * `delivering`: the sender does not write that into the row (the lease says
 * it), so readers ask the job (`inFlight`).
 */
export function toDelivery(row: DeliveryRow & { in_flight?: boolean | null }): Delivery {
  const status = row.status === 'queued' && row.in_flight ? 'delivering' : row.status
  const { in_flight: _, ...plain } = row
  return toDeliveryOf({ ...plain, status })
}

/** Whether a delivery's job is running now (its lease not run out), for `toDelivery`. */
export const inFlight = sql<boolean>`exists (select from jobs j
  where j.id = deliveries.job_id and j.locked_until > now())`.as('in_flight')

function toDeliveryOf(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    rule_id: row.rule_id,
    kind: row.kind,
    event_id: row.event_id,
    event_type: row.event_type,
    entity_type: row.entity_type,
    entity_id: row.entity_id,
    status: row.status,
    status_label: labels[row.status],
    attempt_count: row.attempts,
    attempts: row.attempts,
    max_attempts: row.max_attempts,
    next_attempt_at: row.next_attempt_at?.toISOString() ?? null,
    mass_post_id: row.mass_post_id,
    response_status: row.response_status,
    response_mapped: row.response_mapped,
    response_unmapped: row.response_unmapped ?? null,
    last_error: row.last_error,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    finished_at: row.finished_at?.toISOString() ?? null,
  }
}

export function toAttempt(row: DeliveryAttemptRow, request: AttemptRequest | null = row.request) {
  return {
    attempt: row.attempt,
    request: request ?? UNKNOWN_REQUEST,
    response_status: row.response_status,
    response_headers: row.response_headers,
    response_body: row.response_body,
    duration_ms: row.duration_ms,
    error: row.error,
    created_at: row.created_at.toISOString(),
  }
}

/** Newest first; by default the last 7 days. Ids are time-ordered, so the window is an id range too. */
export async function listDeliveries(db: Db, workspaceId: string, query: DeliveryListQuery) {
  const until = query.until ? new Date(query.until) : new Date()
  const since = query.since ? new Date(query.since) : new Date(until.getTime() - DEFAULT_WINDOW_MS)
  let q = db
    .selectFrom('deliveries')
    .selectAll()
    .select(inFlight)
    .where('workspace_id', '=', workspaceId)
    .where('created_at', '>=', since)
    .where('created_at', '<=', until)
    .orderBy('id', 'desc')
    .limit(query.limit + 1)
  if (query.rule_id) q = q.where('rule_id', '=', query.rule_id)
  if (query.status) q = q.where('status', '=', query.status)
  if (query.event_type) q = q.where('event_type', '=', query.event_type)
  if (query.entity_id) {
    const entityId = query.entity_id
    // A batch is filed under its first record, and under the others in delivery_batch_records.
    q = q.where((eb) =>
      eb.or([
        eb('entity_id', '=', entityId),
        eb(
          'id',
          'in',
          eb
            .selectFrom('delivery_batch_records')
            .select('delivery_id')
            .where('workspace_id', '=', workspaceId)
            .where('entity_id', '=', entityId),
        ),
      ]),
    )
  }
  if (query.kind) q = q.where('kind', '=', query.kind)
  if (query.cursor) q = q.where('id', '<', String(decodeCursor(query.cursor, 1)[0]))
  const { rows, next_cursor } = toPage(await q.execute(), query.limit, (r) => [r.id])
  return { data: rows.map(toDelivery), next_cursor }
}

export async function getDeliveryRow(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<DeliveryRow & { in_flight: boolean }> {
  const row = await db
    .selectFrom('deliveries')
    .selectAll()
    .select(inFlight)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst()
  if (!row) throw errors.notFound('delivery', id)
  return row
}

/**
 * A delivery with its attempts: its attempt rows, and a first attempt that
 * succeeded kept in its own row (migrations/0019), whose request is rendered
 * again (src/outbound/send/sent-request.ts).
 */
export async function getDelivery(deps: HistoryDeps, workspaceId: string, id: string) {
  const { db } = deps
  const row = await getDeliveryRow(db, workspaceId, id)
  const rows = await db
    .selectFrom('delivery_attempts')
    .selectAll()
    .where('delivery_id', '=', id)
    .orderBy('attempt')
    .orderBy('id')
    .execute()
  const inRow: DeliveryAttemptRow[] = row.sent_at
    ? [
        {
          id: '0',
          delivery_id: row.id,
          workspace_id: row.workspace_id,
          attempt: 1,
          request: null,
          sent_at: row.sent_at,
          rule_version_id: row.rule_version_id,
          response_status: row.response_status,
          response_headers: row.response_headers,
          response_body: row.response_body,
          duration_ms: row.duration_ms ?? 0,
          error: null,
          created_at: row.finished_at ?? row.updated_at,
        },
      ]
    : []
  const attempts = [...inRow, ...rows]
  const records = attempts.some((a) => a.request === null) ? await deliveryRecords(db, row) : null
  const history = await Promise.all(
    attempts.map(async (attempt) =>
      toAttempt(
        attempt,
        attempt.request ??
          (attempt.sent_at
            ? await renderSentRequest(deps, row, records, {
                sentAt: attempt.sent_at,
                ruleVersionId: attempt.rule_version_id,
              })
            : null),
      ),
    ),
  )
  return { ...toDelivery(row), attempt_history: history }
}

/**
 * Moves a first attempt kept in a delivery's row into an attempt row, before
 * the delivery is sent again (its row then describes the later attempts).
 */
async function moveFirstAttemptOut(db: Db, id: string): Promise<void> {
  await sql`
    with moved as (
      update deliveries d set sent_at = null, duration_ms = null, rule_version_id = null,
        response_headers = null, response_body = null
      from deliveries old
      where d.id = ${id} and old.id = d.id and d.sent_at is not null
      returning old.*
    )
    insert into delivery_attempts (delivery_id, workspace_id, attempt, request, sent_at,
      rule_version_id, response_status, response_headers, response_body, duration_ms, error,
      created_at)
    select id, workspace_id, 1, null, sent_at, rule_version_id, response_status,
      response_headers, response_body, coalesce(duration_ms, 0), null,
      coalesce(finished_at, updated_at)
    from moved`.execute(db)
}

/** Cancels a queued delivery; its job is removed when no worker holds it. */
export async function cancelDelivery(db: Db, workspaceId: string, id: string) {
  const row = toDelivery(await getDeliveryRow(db, workspaceId, id))
  if (row.status !== 'queued') {
    throw errors.conflict(
      `delivery ${id} is ${row.status}; only a queued delivery can be cancelled`,
    )
  }
  const updated = await db.transaction().execute(async (trx) => {
    // The job's row, locked: a worker taking it meanwhile (its lease is an
    // update of this row) either finished taking it, and the delivery is in
    // flight, or waits for this cancel and then finds the delivery cancelled.
    const { rows: jobs } = await sql<{ running: boolean }>`
      select coalesce(j.locked_until > now(), false) as running
      from jobs j join deliveries d on d.job_id = j.id
      where d.id = ${id}
      for update of j`.execute(trx)
    if (jobs[0]?.running) return undefined
    const cancelled = await trx
      .updateTable('deliveries')
      .set({
        status: 'cancelled',
        last_error: 'cancelled by request',
        finished_at: new Date(),
        updated_at: new Date(),
        batch_open: false,
      })
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .returningAll()
      .executeTakeFirst()
    // A job that sends other deliveries too stays: it finds this one cancelled and skips it.
    if (cancelled?.job_id) await cancelSoleJob(trx, String(cancelled.job_id))
    return cancelled
  })
  if (!updated)
    throw errors.conflict(`delivery ${id} started meanwhile; it can no longer be cancelled`)
  return toDelivery(updated)
}

/**
 * Sends a finished delivery again: same id (so the same `webhook-id`),
 * attempts counted on, a fresh set of tries (the rule's, or a notice's).
 */
export async function resendDelivery(db: Db, workspaceId: string, id: string) {
  const row = await getDeliveryRow(db, workspaceId, id)
  if (row.status === 'queued' || row.status === 'delivering') {
    throw errors.conflict(`delivery ${id} is ${row.status} already`)
  }
  const rule = row.rule_id
    ? await db
        .selectFrom('rules')
        .select('execution')
        .where('id', '=', row.rule_id)
        .executeTakeFirst()
    : undefined
  const tries = rule?.execution.max_attempts ?? (row.kind === 'notice' ? NOTICE_MAX_ATTEMPTS : 1)
  return db.transaction().execute(async (trx) => {
    await moveFirstAttemptOut(trx, id)
    await trx
      .updateTable('deliveries')
      .set((eb) => ({
        max_attempts: eb('attempts', '+', tries),
        finished_at: null,
        last_error: null,
      }))
      .where('id', '=', id)
      .execute()
    await rescheduleDelivery(trx, row, new Date())
    return toDelivery(await getDeliveryRow(trx, workspaceId, id))
  })
}

/** Resends every failed delivery of a rule created in the range. */
export async function retryFailed(
  db: Db,
  workspaceId: string,
  body: { rule_id: string; since: string; until?: string },
) {
  const rule = await db
    .selectFrom('rules')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', body.rule_id)
    .executeTakeFirst()
  if (!rule) throw errors.notFound('rule', body.rule_id)
  const failed = await db
    .selectFrom('deliveries')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('rule_id', '=', body.rule_id)
    .where('status', '=', 'failed')
    .where('created_at', '>=', new Date(body.since))
    .where('created_at', '<=', body.until ? new Date(body.until) : new Date())
    .orderBy('id')
    .limit(10_000)
    .execute()
  for (const { id } of failed) await resendDelivery(db, workspaceId, id)
  return { retried: failed.length, delivery_ids: failed.map((f) => f.id) }
}
