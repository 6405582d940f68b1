import { sql } from 'kysely'
import { arrayLiteral } from '../db/array-literal.js'
import type { Db } from '../db/database.js'
import { prepared } from '../db/prepared.js'
import type { ForwardedAction, NewInboundCallRow } from '../db/tables/inbound-calls.js'
import {
  DELIVERIES_PER_JOB,
  jobGroups,
  plannedUnnest,
  queuePlanned,
} from '../outbound/deliveries/schedule.js'
import { notifyWorkers } from '../queue/enqueue.js'
import { type Forward, type ForwardPlan, noticeRecord, planForwards } from './forward.js'
import type { LoadedHandler } from './loaded-handler.js'
import { takeUnlessHeld } from './sql/claim-keys.js'

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
  // Each delivery names its call by the call's place in the batch (c.n, from 1).
  const placeOf = new Map<string, number>()
  plans.forEach((plan, k) => {
    placeOf.set(plan.noticeDeliveryId, k + 1)
    for (const action of plan.actions)
      if (action.delivery_id) placeOf.set(action.delivery_id, k + 1)
  })
  const callOfDelivery = planned.map((p) => placeOf.get(p.row.id) as number)
  const groups = jobGroups(planned, perJob)

  const { rows } = await sql<{
    id: string
    outcome: 'accepted' | 'duplicate'
    replayed: boolean
  }>`${prepared('inbound_settle')}
    with c as (
      select * from ${settleColumns(items, plans)}
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
      from ${plannedUnnest(planned, groups, {
        arrays: sql`${arrayLiteral(callOfDelivery)}::int[]`,
        names: 'call_n',
      })}
      join c on c.n = p.call_n
      where c.id in (select id from outcomes where outcome = 'accepted')
    ),
    ${queuePlanned},
    logged as (
      insert into inbound_calls (
        id, workspace_id, handler_id, method, headers, query, content_type, body, body_size,
        source_address, received_at, outcome, reason, params, record, notice_delivery_id,
        actions, response_status, finished_at)
      select c.id, c.workspace_id, c.handler_id, c.method, c.headers, c.query, c.content_type,
        decode(c.body, 'base64'), c.body_size, c.source_address, c.received_at::timestamptz,
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

/**
 * The batch's calls as a from item `c`, one array per column (`n` a call's
 * place, from 1): text as array literals, the JSON columns as one JSON
 * array each (their texts spliced in as they are), zipped back into rows by
 * ROWS FROM. Cheaper for PostgreSQL than a document of one object per call,
 * which it builds as jsonb (its keys sorted) only to take apart again; and
 * for us, with no member names to write. `received_at` stays ISO text: the
 * notice's record quotes it as it is.
 */
function settleColumns(items: SettleItem[], plans: ForwardPlan[]) {
  const column = (of: (item: SettleItem, k: number) => string | number | null | undefined) =>
    arrayLiteral(items.map(of))
  const call = (of: (call: NewInboundCallRow) => string | number | null | undefined) =>
    column((item) => of(item.forward.call))
  // Each a JSON array, one element per call: one jsonb to parse.
  const json = (of: (call: NewInboundCallRow) => string | null | undefined) => {
    let text = '['
    for (let k = 0; k < items.length; k++) {
      if (k > 0) text += ','
      text += of((items[k] as SettleItem).forward.call) ?? 'null'
    }
    return `${text}]`
  }
  return sql`(
    select id, workspace_id, handler_id, method, headers, query, content_type, body, body_size,
      source_address, received_at, nullif(params, 'null'::jsonb) as params,
      nullif(record, 'null'::jsonb) as record, replay_key, replay_ttl, replay_reason,
      dedupe_key, dedupe_ttl, accepted_status, notice_id, forwarded, n
    from rows from (
      unnest(${call((r) => r.id)}::text[]), unnest(${call((r) => r.workspace_id)}::text[]),
      unnest(${call((r) => r.handler_id)}::text[]), unnest(${call((r) => r.method)}::text[]),
      jsonb_array_elements(${json((r) => r.headers)}::jsonb),
      jsonb_array_elements(${json((r) => r.query)}::jsonb),
      unnest(${call((r) => r.content_type)}::text[]),
      unnest(${call((r) => (r.body ? r.body.toString('base64') : null))}::text[]),
      unnest(${call((r) => r.body_size)}::int[]), unnest(${call((r) => r.source_address)}::text[]),
      unnest(${column((item) => item.receivedAt.toISOString())}::text[]),
      jsonb_array_elements(${json((r) => r.params)}::jsonb),
      jsonb_array_elements(${json((r) => r.record)}::jsonb),
      unnest(${column((item) => item.replayKey)}::text[]),
      unnest(${column((item) => item.replayTtlSeconds)}::float8[]),
      unnest(${column((item) => (item.replayKey === null ? null : replayReason(item)))}::text[]),
      unnest(${column((item) => item.dedupeKey)}::text[]),
      unnest(${column((item) => item.handler.protectionSeconds)}::float8[]),
      unnest(${column((item) => item.responseStatus)}::int[]),
      unnest(${column((_, k) => (plans[k] as ForwardPlan).noticeDeliveryId)}::text[]),
      jsonb_array_elements(${`[${plans.map((plan) => JSON.stringify(plan.actions)).join(',')}]`}::jsonb)
    ) with ordinality as u(id, workspace_id, handler_id, method, headers, query, content_type,
      body, body_size, source_address, received_at, params, record, replay_key, replay_ttl,
      replay_reason, dedupe_key, dedupe_ttl, accepted_status, notice_id, forwarded, n)
  ) as c`
}
