import type { DeliveryRow } from '../../db/tables/deliveries.js'
import type { Metrics } from '../../metrics.js'
import type { SendResult } from '../../net/http-sender.js'

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
  const bound = boundOf(metrics)
  // A render failure made no call: durationMs 0 and no status.
  if (result && (result.status !== null || result.durationMs > 0)) {
    const outcome =
      delivery.status === 'succeeded' ? 'success' : result.status === null ? 'error' : 'http_error'
    bound
      .child(`d\n${outcome}`, () => metrics.attemptDuration.labels({ result: outcome }))
      .observe(result.durationMs / 1000)
    const status_class = statusClass(result.status)
    bound.child(`a\n${status_class}`, () => metrics.attempts.labels({ status_class })).inc()
  }
  if (FINAL.has(delivery.status)) {
    const outcome = delivery.status
    if (metrics.workspaceLabels) {
      metrics.deliveries.inc({ outcome, workspace: delivery.workspace_id })
    } else {
      bound.child(`o\n${outcome}`, () => metrics.deliveries.labels({ outcome })).inc()
    }
    const finished = delivery.finished_at ?? new Date()
    const seconds = Math.max(0, finished.getTime() - delivery.created_at.getTime()) / 1000
    bound.child(`l\n${outcome}`, () => metrics.deliveryLatency.labels({ outcome })).observe(seconds)
  }
}

/**
 * Label children bound once per process: `labels()` hashes its labels into a
 * key on every call, which every attempt paid twice or three times.
 */
interface Bound {
  child<C>(key: string, make: () => C): C
}
const bindings = new WeakMap<Metrics, Bound>()
function boundOf(metrics: Metrics): Bound {
  let bound = bindings.get(metrics)
  if (!bound) {
    const children = new Map<string, unknown>()
    bound = {
      child<C>(key: string, make: () => C): C {
        let child = children.get(key) as C | undefined
        if (child === undefined) {
          child = make()
          children.set(key, child)
        }
        return child
      },
    }
    bindings.set(metrics, bound)
  }
  return bound
}

const statusClass = (status: number | null) =>
  status === null
    ? 'none'
    : status >= 200 && status < 600
      ? `${Math.floor(status / 100)}xx`
      : 'none'
