import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { pendingMigrations } from '../db/migrate.js'
import { ref } from '../schemas/common.js'
import { Health, Readiness } from '../schemas/health.js'
import type { RouteDeps } from './deps.js'

export const healthRoutes: FastifyPluginAsyncTypebox<
  RouteDeps & { liveness?: () => string | undefined }
> = async (app, { pool, liveness }) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        security: [],
        summary: 'Liveness: the process is up and can recover',
        description:
          'Answers 200 while the process runs, without touching the database. Answers 503 when the process cannot recover by itself (the embedded PostgreSQL stopped and keeps failing to restart): restart it.',
        response: {
          200: ref(Health, 'Alive.'),
          503: ref(Health, 'Unhealthy; the body says why.'),
        },
      },
      logLevel: 'warn',
    },
    async (_request, reply) => {
      const problem = liveness?.()
      if (problem) return reply.code(503).send({ status: 'unhealthy' as const, reason: problem })
      return { status: 'ok' as const }
    },
  )

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        security: [],
        summary: 'Readiness: the database answers and migrations are applied',
        description:
          'Answers 503 with the same body while not ready, so load balancers hold traffic.',
        response: {
          200: ref(Readiness, 'Ready.'),
          503: ref(Readiness, 'Not ready; the body says why.'),
        },
      },
      logLevel: 'warn',
    },
    async (_request, reply) => {
      try {
        const pending = await pendingMigrations(pool)
        const ready = pending.length === 0
        return reply.code(ready ? 200 : 503).send({
          status: ready ? 'ready' : 'not_ready',
          database: true,
          pending_migrations: pending,
        })
      } catch {
        return reply
          .code(503)
          .send({ status: 'not_ready', database: false, pending_migrations: [] })
      }
    },
  )
}
