import { createRequire } from 'node:module'
import type pg from 'pg'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { type QueueStats, queueStatsFromPool } from './queue/queue-stats.js'

/**
 * The process's Prometheus metrics, on a registry of its own (never
 * prom-client's global one), so every app built in one process (tests) counts
 * apart. Built once per process by server.ts and handed to the app and the
 * workers; route plugins get it through RouteDeps, the delivery engine holds it.
 */
export interface Metrics {
  registry: Registry
  /** Every HTTP request, by route pattern (never the raw URL), method and status. */
  httpRequestDuration: Histogram<'route' | 'method' | 'status'>
  /** Deliveries that reached a final state, by that state (and workspace, when `workspaceLabels`). */
  deliveries: Counter<'outcome' | 'workspace'>
  /** METRICS_WORKSPACE_LABELS: deliveries also carry a `workspace` label. */
  workspaceLabels: boolean
  /** Events recorded (POST /v1/events and /batch; replays of an idempotency key not counted). */
  eventsIngested: Counter
  /** Outbound HTTP attempts by status class: 2xx, 3xx, 4xx, 5xx, or none (no answer). */
  attempts: Counter<'status_class'>
  /** Created → finished, by final state: retries and delays included. */
  deliveryLatency: Histogram<'outcome'>
  /** One HTTP attempt; `result` is success, http_error (an answer that is not success) or error (none). */
  attemptDuration: Histogram<'result'>
  /** Inbound calls by the outcome written to the call log. */
  inboundCalls: Counter<'outcome'>
  /** Notices to a CRM callback that failed for good (their tries used up), by notice type. */
  noticesFailed: Counter<'type'>
}

export const DELIVERY_OUTCOMES = ['succeeded', 'failed', 'cancelled'] as const
export const ATTEMPT_RESULTS = ['success', 'http_error', 'error'] as const
export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'none'] as const
// The call log's outcomes (migrations/0004_inbound.sql), less the transient 'received'.
export const INBOUND_OUTCOMES = [
  'accepted',
  'duplicate',
  'filtered',
  'inactive',
  'rejected',
  'invalid',
  'error',
] as const

const { version } = createRequire(import.meta.url)('../package.json') as { version: string }

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const ATTEMPT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
// From a send within milliseconds to a delivery that retried for a day.
const LATENCY_BUCKETS = [
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  300,
  900,
  3600,
  4 * 3600,
  24 * 3600,
]

/**
 * Builds the registry. With a pool, adds gauges read at scrape time: the
 * pool's connections and the job queue's depth and oldest due job (one query
 * per scrape, shared by the queue gauges).
 */
export function createMetrics(
  options: {
    pool?: pg.Pool
    /** Job kinds whose queue series read 0 from the start, before any job of them exists. */
    queueKinds?: readonly string[]
    workspaceLabels?: boolean
  } = {},
): Metrics {
  const registry = new Registry()
  const registers = [registry]
  const workspaceLabels = options.workspaceLabels ?? false
  collectDefaultMetrics({ register: registry })
  new Gauge({
    name: 'hookline_build_info',
    help: 'Always 1; the labels say which Hookline version runs on which Node.js.',
    labelNames: ['version', 'node'],
    registers,
  }).set({ version, node: process.versions.node }, 1)

  const metrics: Metrics = {
    registry,
    httpRequestDuration: new Histogram({
      name: 'hookline_http_request_duration_seconds',
      help: 'HTTP requests served, by route pattern, method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    }),
    deliveries: new Counter({
      name: 'hookline_deliveries_total',
      help: 'Deliveries that reached a final state, by outcome (and workspace with METRICS_WORKSPACE_LABELS).',
      labelNames: workspaceLabels ? ['outcome', 'workspace'] : ['outcome'],
      registers,
    }),
    workspaceLabels,
    eventsIngested: new Counter({
      name: 'hookline_events_ingested_total',
      help: 'Events recorded through POST /v1/events and /v1/events/batch (replays not counted).',
      registers,
    }),
    attempts: new Counter({
      name: 'hookline_delivery_attempts_total',
      help: 'Outbound HTTP attempts by the answer’s status class (none: no answer, e.g. a timeout).',
      labelNames: ['status_class'],
      registers,
    }),
    deliveryLatency: new Histogram({
      name: 'hookline_delivery_latency_seconds',
      help: 'Time from a delivery being created to its final state (delays and retries included).',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    attemptDuration: new Histogram({
      name: 'hookline_delivery_attempt_duration_seconds',
      help: 'Duration of one outbound HTTP attempt, by result (success, http_error, error).',
      labelNames: ['result'],
      buckets: ATTEMPT_BUCKETS,
      registers,
    }),
    inboundCalls: new Counter({
      name: 'hookline_inbound_calls_total',
      help: 'Calls to inbound handler endpoints, by outcome.',
      labelNames: ['outcome'],
      registers,
    }),
    noticesFailed: new Counter({
      name: 'hookline_notices_failed_total',
      help: 'Notices to a CRM callback that failed for good, by type (inbound.record: a record not forwarded).',
      labelNames: ['type'],
      registers,
    }),
  }
  // Zeroes from the start, so rate() and alerts see a series before the first event.
  if (!workspaceLabels) {
    for (const outcome of DELIVERY_OUTCOMES) metrics.deliveries.inc({ outcome }, 0)
  }
  metrics.eventsIngested.inc(0)
  for (const status_class of STATUS_CLASSES) metrics.attempts.inc({ status_class }, 0)
  for (const outcome of DELIVERY_OUTCOMES) metrics.deliveryLatency.zero({ outcome })
  for (const result of ATTEMPT_RESULTS) metrics.attemptDuration.zero({ result })
  for (const outcome of INBOUND_OUTCOMES) metrics.inboundCalls.inc({ outcome }, 0)
  metrics.noticesFailed.inc({ type: 'inbound.record' }, 0)

  if (options.pool) {
    watchPool(registers, options.pool)
    watchQueue(registers, options.pool, options.queueKinds ?? [])
  }
  return metrics
}

function watchPool(registers: Registry[], pool: pg.Pool) {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read())
      },
    })
  gauge('hookline_db_pool_connections', 'Connections open in the pool.', () => pool.totalCount)
  gauge('hookline_db_pool_idle_connections', 'Open connections not in use.', () => pool.idleCount)
  gauge(
    'hookline_db_pool_waiting_requests',
    'Queries waiting for a connection (the pool is exhausted).',
    () => pool.waitingCount,
  )
  gauge(
    'hookline_db_pool_max_connections',
    'The pool size (DATABASE_POOL_SIZE).',
    () => pool.options.max ?? 10,
  )
}

function watchQueue(registers: Registry[], pool: pg.Pool, knownKinds: readonly string[]) {
  // The registry collects every metric at once; the gauges share one query.
  let inFlight: Promise<QueueStats | null> | null = null
  const stats = () => {
    inFlight ??= queueStatsFromPool(pool)
      .catch(() => null)
      .finally(() => {
        inFlight = null
      })
    return inFlight
  }
  // Known kinds read 0 before their first job, and kinds seen once keep a
  // series (at 0) when their last job is gone: idle is 0, never a gap.
  const kinds = new Set<string>(knownKinds)
  const gauge = (name: string, help: string, read: (s: QueueStats['byKind'][string]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['kind'],
      registers,
      async collect() {
        const current = await stats()
        if (!current) return // database unreachable: keep the last figures
        for (const kind of Object.keys(current.byKind)) kinds.add(kind)
        for (const kind of kinds) {
          const row = current.byKind[kind]
          this.set({ kind }, row ? read(row) : 0)
        }
      },
    })
  gauge(
    'hookline_queue_depth',
    'Live jobs (pending, scheduled or running), by kind.',
    (s) => s.depth,
  )
  gauge('hookline_queue_due', 'Jobs runnable now and waiting for a worker, by kind.', (s) => s.due)
  gauge('hookline_queue_dead', 'Jobs that used up their attempts, by kind.', (s) => s.dead)
  gauge(
    'hookline_queue_oldest_due_age_seconds',
    'How long the longest-waiting due job has been runnable (0 when none is), by kind.',
    (s) => (s.oldestDueAgeMs ?? 0) / 1000,
  )
}
