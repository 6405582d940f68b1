import { sql } from 'kysely'
import type { Db } from '../db/database.js'
import { prepared } from '../db/prepared.js'
import type { ForwardedAction, NewInboundCallRow } from '../db/tables/inbound-calls.js'
import {
  DELIVERIES_PER_JOB,
  jobGroups,
  PLANNED_COLUMNS,
  plannedJson,
  queuePlanned,
} from '../outbound/deliveries/schedule.js'
import { notifyWorkers } from '../queue/enqueue.js'
import { type Forward, noticeRecord, planForwards } from './forward.js'
import type { LoadedHandler } from './loaded-handler.js'
import { takeUnlessHeld } from './sql/claim-keys.js'
import { CALL_COLUMNS, rowJson } from './sql/insert-calls.js'

/** A POST call that passed the pure steps and needs the database to end. */
export interface SettleItem {
  callId: string
  handler: LoadedHandler
  receivedAt: Date
  replayKey: string | null
  replayTtlSeconds: number
  dedupeKey: string | null
  /**
   * The call as the log keeps it, written with its outcome in the statement
   * that claims its keys and queues its deliveries, and the record to forward
   * when the claims are won.
   */
  forward: { call: NewInboundCallRow; record: Record<string, unknown> }
  /** What the call is answered with, accepted or duplicate, for the call log. */
  responseStatus: number
}

export type SettleResult =
  | { outcome: 'accepted'; noticeDeliveryId: string; actions: ForwardedAction[] }
  | { outcome: 'duplicate'; reason: string }

// A verified message whose id was seen is the sender retrying (Standard
// Webhooks and Svix retry with the same id and a fresh signature): a duplicate.
const replayReason = (item: SettleItem) =>
  `webhook-id ${item.replayKey?.slice(2, 102)} was already received (the sender's retry; not forwarded again)`
const duplicateReason = (item: SettleItem) =>
  `identical to a call within the ${item.handler.protectionSeconds} s protection period`
// The same, as the settle statement writes it from the call's `dedupe_ttl`
// (a handler's protection period is whole seconds, so it reads the same).
const DUPLICATE_REASON = sql`'identical to a call within the ' || c.dedupe_ttl || ' s protection period'`

/**
 * Settles a batch of POST calls in one statement (see `forwardCalls`): one
 * round trip, one commit. `perJob`: most notices of a workspace to a job
 * (schedule.ts `deliveriesPerJob`).
 */
export async function settleBatch(
  db: Db,
  items: SettleItem[],
  perJob = DELIVERIES_PER_JOB,
): Promise<SettleResult[]> {
  const results: SettleResult[] = new Array(items.length)
  if (items.length > 0) await forwardCalls(db, items, results, perJob)
  return results
}

/**
 * One statement for a batch of POST calls: claim replay ids, then (for the
 * calls whose replay id was new) protection keys; a call that loses either
 * claim is a duplicate; queue the forwarding
 * deliveries of the calls that won both; write every call to the log with
 * its outcome. So a call is `accepted` exactly when its notice and actions
 * exist, each call is one row written once, and the batch commits once.
 * When the statement fails nothing of it stays, and the caller records the
 * calls with the error.
 *
 * Within the batch the first call with a key (`n` order) is the one that
 * tries to claim it; the others lose, as they would to a call before them.
 * Keys are claimed in key order, so concurrent batches lock them in one
 * order and cannot deadlock. A key held by a concurrent transaction makes
 * the insert wait for it, then find the conflict: two identical calls never
 * both win. An expired claim is taken over; expiry uses the database's clock.
 */
async function forwardCalls(
  db: Db,
  items: SettleItem[],
  results: SettleResult[],
  perJob: number,
): Promise<void> {
  const forwards: Forward[] = items.map(({ handler, callId, receivedAt, forward }) => {
    return { handler, callId, receivedAt, record: forward.record }
  })
  const { planned, plans, occurredAt } = await planForwards(db, forwards)
  const callOf = new Map<string, string>()
  plans.forEach((plan, k) => {
    const callId = forwards[k]!.callId
    callOf.set(plan.noticeDeliveryId, callId)
    for (const action of plan.actions)
      if (action.delivery_id) callOf.set(action.delivery_id, callId)
  })
  const calls = items.map((item, k) => {
    const plan = plans[k]!
    // The settle statement's own columns, written as JSON members (a null one left out).
    let members =
      `"n":${k},"replay_ttl":${JSON.stringify(item.replayTtlSeconds)},` +
      `"dedupe_ttl":${JSON.stringify(item.handler.protectionSeconds)},` +
      `"accepted_status":${JSON.stringify(item.responseStatus)},` +
      `"notice_id":${JSON.stringify(plan.noticeDeliveryId)},"forwarded":${JSON.stringify(plan.actions)}`
    if (item.replayKey !== null) {
      members += `,"replay_key":${JSON.stringify(item.replayKey)},"replay_reason":${JSON.stringify(replayReason(item))}`
    }
    if (item.dedupeKey !== null) members += `,"dedupe_key":${JSON.stringify(item.dedupeKey)}`
    return rowJson(item.forward.call, members)
  })
  const groups = jobGroups(planned, perJob)
  // Each delivery names its call; a notice's record is built from the call's (noticeRecord).
  const receivedOf = new Map(items.map((item) => [item.callId, item.receivedAt.toISOString()]))
  const deliveries = planned.map((p, n) => {
    const callId = callOf.get(p.row.id) as string
    return plannedJson(p, n, groups[n]!, { call_id: callId, received_at: receivedOf.get(callId) })
  })

  const { rows } = await sql<{
    id: string
    outcome: 'accepted' | 'duplicate'
    replayed: boolean
  }>`${prepared('inbound_settle')}
    with c as (
      select * from jsonb_to_recordset(${`[${calls.join(',')}]`}::jsonb) as c(${CALL_COLUMNS},
        n int, replay_key text, replay_ttl float8, replay_reason text, dedupe_key text,
        dedupe_ttl float8, accepted_status int, notice_id text,
        forwarded jsonb)
    ),
    replayed as (
      insert into inbound_claims (handler_id, key, call_id, expires_at)
      select distinct on (handler_id, replay_key)
        handler_id, replay_key, id, now() + make_interval(secs => replay_ttl)
      from c where replay_key is not null
      order by handler_id, replay_key, n
      ${takeUnlessHeld}
      returning call_id
    ),
    protected as (
      insert into inbound_claims (handler_id, key, call_id, expires_at)
      select distinct on (handler_id, dedupe_key)
        handler_id, dedupe_key, id, now() + make_interval(secs => dedupe_ttl)
      from c
      where dedupe_key is not null and (replay_key is null or id in (select call_id from replayed))
      order by handler_id, dedupe_key, n
      ${takeUnlessHeld}
      returning call_id
    ),
    outcomes as (
      select id, n, case
        when replay_key is not null and id not in (select call_id from replayed) then 'replayed'
        when dedupe_key is not null and id not in (select call_id from protected) then 'duplicate'
        else 'accepted' end as outcome
      from c
    ),
    planned as (
      select p.id, p.workspace_id, p.rule_id, p.kind, p.event_id, p.event_type, p.entity_type,
        p.entity_id, coalesce(p.record, ${noticeRecord(occurredAt)}) as record, p.previous,
        p.max_attempts, p.batch_open, p.mass_post_id, p.run_at, p.n, p.g
      from jsonb_to_recordset(${`[${deliveries.join(',')}]`}::jsonb)
        as p(${PLANNED_COLUMNS}, call_id text, received_at text)
      join c on c.id = p.call_id
      where p.call_id in (select id from outcomes where outcome = 'accepted')
    ),
    ${queuePlanned},
    logged as (
      insert into inbound_calls (
        id, workspace_id, handler_id, method, headers, query, content_type, body, body_size,
        source_address, received_at, outcome, reason, params, record, notice_delivery_id,
        actions, response_status, finished_at)
      select c.id, c.workspace_id, c.handler_id, c.method, c.headers, c.query, c.content_type,
        decode(c.body, 'base64'), c.body_size, c.source_address, c.received_at,
        case o.outcome when 'replayed' then 'duplicate' else o.outcome end,
        case o.outcome when 'replayed' then c.replay_reason
          when 'duplicate' then ${DUPLICATE_REASON} end,
        c.params, c.record,
        case when o.outcome = 'accepted' then c.notice_id end,
        case when o.outcome = 'accepted' then c.forwarded end,
        c.accepted_status, now()
      from c join outcomes o on o.id = c.id
      order by c.n
    )
    select o.id, case o.outcome when 'replayed' then 'duplicate' else o.outcome end as outcome,
      o.outcome = 'replayed' as replayed, (select ${notifyWorkers} from jobs) as notified
    from outcomes o`.execute(db)

  const outcomeOf = new Map(rows.map((row) => [row.id, row]))
  items.forEach((item, k) => {
    const row = outcomeOf.get(item.callId)
    if (row?.outcome === 'accepted') {
      const plan = plans[k]!
      results[k] = {
        outcome: 'accepted',
        noticeDeliveryId: plan.noticeDeliveryId,
        actions: plan.actions,
      }
    } else if (row?.outcome === 'duplicate') {
      results[k] = {
        outcome: 'duplicate',
        reason: row.replayed ? replayReason(item) : duplicateReason(item),
      }
    } else throw new Error(`call ${item.callId} is missing from the settle statement's answer`)
  })
}
