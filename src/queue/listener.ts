import pg from 'pg'
import type { QueueLogger } from './types.js'

export interface ListenerOptions {
  connectionString: string
  channel: string
  applicationName: string
  onNotify(payload: string | undefined): void
  /** Called after every reconnect: notifications sent while we were away are lost, so look once. */
  onReconnect(): void
  logger: QueueLogger
}

export interface Listener {
  start(): Promise<void>
  stop(): Promise<void>
  /** True while the LISTEN connection is up. */
  readonly connected: boolean
  /** The LISTEN connection while it is up, for a statement that should not wait for the pool. */
  readonly client: pg.Client | undefined
}

const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 10_000

/**
 * A dedicated connection that LISTENs (a pooled one would lose the LISTEN when
 * released). It reconnects by itself, with backoff, when the connection dies
 * (pg_terminate_backend, a server restart, a network cut).
 */
export function createListener(options: ListenerOptions): Listener {
  const { logger } = options
  let client: pg.Client | undefined
  let stopped = false
  let retryMs = RECONNECT_MIN_MS
  let retryTimer: NodeJS.Timeout | undefined

  async function connect(initial: boolean): Promise<void> {
    const next = new pg.Client({
      connectionString: options.connectionString,
      application_name: options.applicationName,
      // A half-open socket (server gone without a FIN) would otherwise look
      // healthy forever; keep-alive probes find it within a minute or so.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 10_000,
    })
    let lost = false
    const onLost = (err?: Error) => {
      if (lost) return
      lost = true
      if (client === next) client = undefined
      next.end().catch(() => {})
      if (stopped) return
      logger.warn({ err: err?.message }, 'queue listener: connection lost, reconnecting')
      scheduleReconnect()
    }
    next.on('error', onLost)
    next.on('end', () => onLost())
    next.on('notification', (message) => {
      if (message.channel === options.channel) options.onNotify(message.payload)
    })
    try {
      await next.connect()
      await next.query(`listen ${pg.escapeIdentifier(options.channel)}`)
    } catch (err) {
      onLost(err as Error)
      return
    }
    if (stopped) {
      await next.end().catch(() => {})
      return
    }
    client = next
    retryMs = RECONNECT_MIN_MS
    logger.debug({ channel: options.channel }, 'queue listener: listening')
    if (!initial) options.onReconnect()
  }

  function scheduleReconnect() {
    if (stopped || retryTimer) return
    // Jitter: many workers cut off by one restart should not come back in lockstep.
    const delay = Math.round(retryMs / 2 + (Math.random() * retryMs) / 2)
    retryMs = Math.min(retryMs * 2, RECONNECT_MAX_MS)
    retryTimer = setTimeout(() => {
      retryTimer = undefined
      void connect(false)
    }, delay)
  }

  return {
    get connected() {
      return client !== undefined
    },
    get client() {
      return client
    },
    async start() {
      stopped = false
      // A failed first attempt is not fatal: it keeps retrying, and the poll covers the gap.
      await connect(true)
    },
    async stop() {
      stopped = true
      clearTimeout(retryTimer)
      retryTimer = undefined
      const current = client
      client = undefined
      await current?.end().catch(() => {})
    },
  }
}
