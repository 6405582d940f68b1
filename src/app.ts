import { randomUUID } from 'node:crypto'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import type pg from 'pg'
import type { Config } from './config.js'
import type { Db } from './db/database.js'
import { createDeliveryEngine } from './outbound/send/engine.js'
import type { SecretBox } from './security/secret-box.js'
import { registerErrorHandler } from './http/error-handler.js'
import { registerOpenApi } from './http/openapi.js'
import { buildValidatorCompiler } from './http/validation.js'
import { healthRoutes } from './routes/health.js'
import { operatorRoutes } from './routes/operator/workspaces.js'
import { v1Routes } from './routes/v1/index.js'
import { sharedSchemas } from './schemas/index.js'

export interface AppOptions {
  config: Config
  db: Db
  pool: pg.Pool
  box: SecretBox
  /** The process's pino logger; omitted, the app logs nothing (tests). */
  logger?: FastifyBaseLogger
}

// A caller's own request id is kept when it is plain and short, so a CRM can
// follow one request through both systems' logs.
const REQUEST_ID = /^[\w.:-]{1,64}$/

/** Builds the API. It does not listen: server.ts does, tests use `inject`. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    return503OnClosing: true,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    schemaController: {
      compilersFactory: { buildValidator: buildValidatorCompiler },
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Slow-header attacks: the whole header block must arrive within this time.
  app.server.headersTimeout = Math.min(config.requestTimeoutMs, 10_000)

  // The management API speaks JSON only; the public inbound endpoints add
  // their own parsers (form, XML, text) in their own scope.
  app.removeContentTypeParser('text/plain')
  for (const schema of sharedSchemas) app.addSchema(schema)
  registerErrorHandler(app)
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })

  await registerOpenApi(app)
  const engine = createDeliveryEngine({ db: options.db, box: options.box, config, log: app.log })
  app.addHook('onClose', () => engine.sender.close())
  const deps = { config, db: options.db, pool: options.pool, box: options.box, engine }
  await app.register(healthRoutes, deps)
  await app.register(operatorRoutes, { ...deps, prefix: '/operator' })
  await app.register(v1Routes, { ...deps, prefix: '/v1' })
  return app
}
