import type { DeliveryRow } from '../../db/tables/deliveries.js'
import type { Metrics } from '../../metrics.js'
import type { SendResult } from './http-sender.js'

const FINAL = new Set(['succeeded', 'failed', 'cancelled'])

/**
 * Counts one attempt (when an HTTP call was made) and, when the delivery has
 * just reached a final state, the delivery and its created → finished latency.
 * Called after the outcome is committed, so a rolled-back write counts nothing.
 */
export function observeDelivery(
  metrics: Metrics | undefined,
  delivery: DeliveryRow,
  result: SendResult | null,
): void {
  if (!metrics) return
  // A render failure made no call: durationMs 0 and no status.
  if (result && (result.status !== null || result.durationMs > 0)) {
    const outcome =
      delivery.status === 'succeeded' ? 'success' : result.status === null ? 'error' : 'http_error'
    metrics.attemptDuration.observe({ result: outcome }, result.durationMs / 1000)
    metrics.attempts.inc({ status_class: statusClass(result.status) })
  }
  if (FINAL.has(delivery.status)) {
    metrics.deliveries.inc(
      metrics.workspaceLabels
        ? { outcome: delivery.status, workspace: delivery.workspace_id }
        : { outcome: delivery.status },
    )
    const finished = delivery.finished_at ?? new Date()
    const seconds = Math.max(0, finished.getTime() - delivery.created_at.getTime()) / 1000
    metrics.deliveryLatency.observe({ outcome: delivery.status }, seconds)
  }
}

const statusClass = (status: number | null) =>
  status === null
    ? 'none'
    : status >= 200 && status < 600
      ? `${Math.floor(status / 100)}xx`
      : 'none'
