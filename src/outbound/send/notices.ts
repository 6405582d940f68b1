import type { Db } from '../../db/database.js'
import { newId } from '../../ids.js'
import { type OutboundRequest, USER_AGENT } from '../../net/http-sender.js'
import { scheduleDeliveries } from '../deliveries/schedule.js'

export type NoticeType = 'record.update' | 'delivery.failed' | 'rule.disabled' | 'inbound.record'

export interface NoticeRecord {
  type: NoticeType
  data: Record<string, unknown>
  occurred_at: string
}

// Notices retry longer than the default rule: the CRM relies on them.
export const NOTICE_MAX_ATTEMPTS = 8

/**
 * Queues a signed notice to the workspace's CRM callback, through the same
 * delivery engine as rules (history, retries, signatures). Call it inside the
 * transaction that made the news, so the notice exists exactly when it does.
 */
export async function enqueueNotice(
  db: Db,
  workspaceId: string,
  type: NoticeType,
  data: Record<string, unknown>,
  about: { entity_type?: string | null; entity_id?: string | null; event_id?: string | null } = {},
): Promise<string> {
  const record: NoticeRecord = { type, data, occurred_at: new Date().toISOString() }
  const [id] = await scheduleDeliveries(db, [
    {
      row: {
        id: newId('dlv'),
        workspace_id: workspaceId,
        rule_id: null,
        kind: 'notice',
        event_id: about.event_id ?? null,
        event_type: type,
        entity_type: about.entity_type ?? null,
        entity_id: about.entity_id ?? null,
        record: JSON.stringify(record),
        previous: null,
        max_attempts: NOTICE_MAX_ATTEMPTS,
      },
      runAt: new Date(),
    },
  ])
  return id as string
}

/** A notice as sent: the Standard Webhooks payload shape `{ type, timestamp, data }`. */
export function noticeRequest(callbackUrl: string, record: unknown): OutboundRequest {
  const notice = record as NoticeRecord
  return {
    method: 'POST',
    url: callbackUrl,
    headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT },
    body: JSON.stringify({ type: notice.type, timestamp: notice.occurred_at, data: notice.data }),
  }
}
