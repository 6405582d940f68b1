import { randomUUID } from 'node:crypto'
import type { IncomingMessage, RequestListener } from 'node:http'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import type pg from 'pg'
import { ApiKeyCache } from './api-keys/api-key-cache.js'
import type { Config } from './config.js'
import type { Db } from './db/database.js'
import { registerDeprecation } from './http/deprecation.js'
import { clientErrorHandler, registerErrorHandler } from './http/error-handler.js'
import { registerIdempotency } from './http/idempotency.js'
import { registerJsonParser } from './http/json-body.js'
import { requestLoggerFactory } from './http/request-logger.js'
import { registerRequestMetrics } from './http/request-metrics.js'
import { trustProxyOption } from './http/trust-proxy.js'
import { buildValidatorCompiler } from './http/validation.js'
import { createInboundRuntime } from './inbound/runtime.js'
import { createMetrics, type Metrics } from './metrics.js'
import { createDeliveryEngine } from './outbound/send/engine.js'
import { healthRoutes } from './routes/health.js'
import { inboundRoutes } from './routes/inbound.js'
import { inboundGate } from './routes/inbound-gate.js'
import { metricsRoutes } from './routes/metrics.js'
import { operatorRoutes } from './routes/operator/workspaces.js'
import { v1Routes } from './routes/v1/index.js'
import { sharedSchemas } from './schemas/index.js'
import type { SecretBox } from './security/secret-box.js'
import { JOB_KINDS } from './workers.js'

export interface AppOptions {
  config: Config
  db: Db
  /** History reads (DATABASE_READ_URL's pool, a read replica); omitted, `db`. */
  readDb?: Db
  pool: pg.Pool
  box: SecretBox
  /** The process's pino logger; omitted, the app logs nothing (tests). */
  logger?: FastifyBaseLogger
  /** The process's metrics, shared with its workers; omitted, the app makes its own. */
  metrics?: Metrics
  /** Why the process cannot recover (the embedded cluster keeps failing), for /healthz; undefined while healthy. */
  liveness?: () => string | undefined
  /** `operations`: only /healthz, /readyz and /metrics (a ROLE=worker process). Default `all`. */
  routes?: 'all' | 'operations'
}

// A caller's own request id is kept when it is plain and short, so a CRM can
// follow one request through both systems' logs.
const REQUEST_ID = /^[\w.:-]{1,64}$/

const requestId = (req: IncomingMessage): string => {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
}

/** Builds the API. It does not listen: server.ts does, tests use `inject`. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options
  const app = Fastify({
    ...(options.logger
      ? { loggerInstance: options.logger, childLoggerFactory: requestLoggerFactory }
      : { logger: false }),
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    // Node looks for overdue headers and bodies only every 30 s by default, so a
    // slow client would hold its connection that long whatever the timeouts say.
    http: { connectionsCheckingInterval: Math.min(1000, config.requestTimeoutMs) },
    connectionTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    return503OnClosing: true,
    clientErrorHandler,
    trustProxy: trustProxyOption(config.trustProxy),
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    genReqId: requestId,
    schemaController: {
      compilersFactory: { buildValidator: buildValidatorCompiler },
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Slow-header attacks: the whole header block must arrive within this time.
  app.server.headersTimeout = Math.min(config.requestTimeoutMs, 10_000)

  // The management API speaks JSON only; the public inbound endpoints add
  // their own parsers (form, XML, text) in their own scope.
  app.removeContentTypeParser('text/plain')
  registerJsonParser(app)
  for (const schema of sharedSchemas) app.addSchema(schema)
  registerErrorHandler(app)
  registerDeprecation(app, sharedSchemas as unknown as Record<string, unknown>[])
  registerIdempotency(app, options.db)
  // Set as the request arrives, so every answer carries it, errors included;
  // a callback hook, not an async one: no promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })

  const metrics =
    options.metrics ??
    createMetrics({
      pool: options.pool,
      queueKinds: JOB_KINDS,
      workspaceLabels: config.metricsWorkspaceLabels,
    })
  registerRequestMetrics(app, metrics)

  // The document and /docs are the API's. A worker does not even load them:
  // Scalar's page script is two strings of 8.6 MB (the module's source and
  // the script in it), held for the life of the process, and V8 lets the old
  // generation grow to about four times what it holds before a full
  // collection, so they cost a draining worker some 70 MB at its peak
  // (bench/RESULTS.md, "Drain RSS").
  if (options.routes !== 'operations') {
    const { registerOpenApi } = await import('./http/openapi.js')
    await registerOpenApi(app)
  }
  const engine = createDeliveryEngine({
    db: options.db,
    box: options.box,
    config,
    log: app.log,
    metrics,
  })
  app.addHook('onClose', () => engine.sender.close())
  // The public endpoint's state (handler cache, rate limits, batched call-log
  // writes); the /v1 handler routes clear its cache when a handler changes.
  const inbound = createInboundRuntime({
    db: options.db,
    box: options.box,
    config,
    sender: engine.sender,
    log: app.log,
  })
  app.addHook('onClose', () => inbound.close())
  // What /in/ can refuse without a lookup is refused before Fastify builds a
  // request for it: Fastify's own handler is the server's one 'request'
  // listener, and goes behind the gate. Not behind a trusted proxy, where
  // the sender's address is Fastify's to work out.
  if (options.routes !== 'operations' && trustProxyOption(config.trustProxy) === false) {
    const gate = inboundGate(inbound, metrics.httpRequestDuration, requestId)
    const [fastifyHandler] = app.server.listeners('request') as RequestListener[]
    if (fastifyHandler) {
      app.server.removeAllListeners('request')
      app.server.on('request', (req, res) => {
        if (!gate(req, res)) fastifyHandler(req, res)
      })
    }
  }
  const deps = {
    config,
    db: options.db,
    readDb: options.readDb ?? options.db,
    pool: options.pool,
    box: options.box,
    engine,
    metrics,
    inbound,
    apiKeyCache: new ApiKeyCache(options.db, config.apiKeyCacheMs),
  }
  await app.register(healthRoutes, { ...deps, liveness: options.liveness })
  await app.register(metricsRoutes, deps)
  if (options.routes === 'operations') return app
  await app.register(operatorRoutes, { ...deps, prefix: '/operator' })
  await app.register(v1Routes, { ...deps, prefix: '/v1' })
  // Public, outside /v1: no API key, its own content-type parsers.
  await app.register(inboundRoutes, deps)
  return app
}
