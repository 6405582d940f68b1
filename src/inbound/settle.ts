import type { Transaction } from 'kysely'
import type { Database, Db } from '../db/database.js'
import type { ForwardedAction } from '../db/tables/inbound-calls.js'
import { scheduleDeliveries } from '../outbound/deliveries/schedule.js'
import { type Forward, planForwards } from './forward.js'
import type { LoadedHandler } from './loaded-handler.js'
import { type Claim, claimKeys } from './sql/claim-keys.js'
import { type CallFinish, finishCalls } from './sql/finish-calls.js'

/** A recorded call that passed the pure steps and needs the database to end. */
export interface SettleItem {
  callId: string
  handler: LoadedHandler
  receivedAt: Date
  replayKey: string | null
  replayTtlSeconds: number
  dedupeKey: string | null
  /** POST: forward this record when the claims are won, and write the outcome. Null (GET): claim only. */
  forward: { record: Record<string, unknown> } | null
  /** What an accepted or duplicate POST call is answered with, for the call log. */
  responseStatus: number
}

export type SettleResult =
  | { outcome: 'accepted'; noticeDeliveryId: string; actions: ForwardedAction[] }
  | { outcome: 'claimed' }
  | { outcome: 'duplicate'; reason: string }
  | { outcome: 'rejected'; reason: string }

const REJECTED_STATUS = 401

/**
 * One transaction for a batch of calls: claim replay ids, then protection
 * keys, then queue the forwarding deliveries of the calls that won, and write
 * every POST call's outcome, so a call is `accepted` exactly when its notice
 * and actions exist. Replay ids are claimed first and apart, so a replayed
 * call never holds a protection key it did not use.
 */
export async function settleBatch(db: Db, items: SettleItem[]): Promise<SettleResult[]> {
  return db.transaction().execute(async (trx) => {
    const results: (SettleResult | undefined)[] = new Array(items.length)
    await claimStep(
      trx,
      items,
      results,
      (item) => item.replayKey,
      'rejected',
      (item) => ({
        ttl: item.replayTtlSeconds,
        reason: `webhook-id ${item.replayKey?.slice(2, 102)} was already received (replay)`,
      }),
    )
    await claimStep(
      trx,
      items,
      results,
      (item) => (item.forward ? item.dedupeKey : null),
      'duplicate',
      (item) => ({
        ttl: item.handler.protectionSeconds,
        reason: `identical to a call within the ${item.handler.protectionSeconds} s protection period`,
      }),
    )

    const forwards: { index: number; forward: Forward }[] = []
    items.forEach((item, index) => {
      if (results[index]) return
      if (!item.forward) results[index] = { outcome: 'claimed' }
      else {
        const { callId, handler, receivedAt } = item
        forwards.push({
          index,
          forward: { handler, callId, receivedAt, record: item.forward.record },
        })
      }
    })
    const { planned, plans } = await planForwards(
      trx,
      forwards.map((f) => f.forward),
    )
    await scheduleDeliveries(trx, planned)
    forwards.forEach(({ index }, i) => {
      const plan = plans[i]!
      results[index] = {
        outcome: 'accepted',
        noticeDeliveryId: plan.noticeDeliveryId,
        actions: plan.actions,
      }
    })

    const finished = results as SettleResult[]
    await finishCalls(
      trx,
      items.flatMap((item, i): CallFinish[] => {
        const result = finished[i]!
        if (!item.forward) return []
        return [
          {
            id: item.callId,
            outcome: result.outcome === 'claimed' ? 'accepted' : result.outcome,
            reason: 'reason' in result ? result.reason : null,
            lookup: null,
            noticeDeliveryId: result.outcome === 'accepted' ? result.noticeDeliveryId : null,
            actions: result.outcome === 'accepted' ? JSON.stringify(result.actions) : null,
            responseStatus: result.outcome === 'rejected' ? REJECTED_STATUS : item.responseStatus,
          },
        ]
      }),
    )
    return finished
  })
}

/**
 * Claims one kind of key for the items still undecided; an item whose key
 * is taken (by an earlier item of this batch, or in the table) gets `lost`.
 */
async function claimStep(
  trx: Transaction<Database>,
  items: SettleItem[],
  results: (SettleResult | undefined)[],
  keyOf: (item: SettleItem) => string | null,
  lost: 'duplicate' | 'rejected',
  detail: (item: SettleItem) => { ttl: number; reason: string },
) {
  const claims: Claim[] = []
  const mine = new Map<string, number>()
  items.forEach((item, i) => {
    const key = keyOf(item)
    if (results[i] || !key) return
    const id = `${item.handler.id} ${key}`
    if (mine.has(id)) {
      results[i] = { outcome: lost, reason: detail(item).reason }
      return
    }
    mine.set(id, i)
    claims.push({
      handlerId: item.handler.id,
      key,
      callId: item.callId,
      ttlSeconds: detail(item).ttl,
    })
  })
  if (claims.length === 0) return
  const won = await claimKeys(trx, claims)
  for (const [id, i] of mine) {
    if (!won.has(id)) results[i] = { outcome: lost, reason: detail(items[i]!).reason }
  }
}
