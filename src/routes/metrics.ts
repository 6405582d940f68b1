import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../errors.js'
import { errorResponses } from '../schemas/common.js'
import type { RouteDeps } from './deps.js'

const sha256 = (text: string) => createHash('sha256').update(text).digest()

/** `/metrics`: Prometheus text, for OPERATOR_TOKEN or METRICS_TOKEN. */
export const metricsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { config, metrics },
) => {
  // A scraper gets its own token, so the operator token need not sit in Prometheus' config.
  const accepted = [config.operatorToken, config.metricsToken]
    .filter((token): token is string => token !== undefined)
    .map(sha256)

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        security: [{ operatorToken: [] }, { metricsToken: [] }],
        summary: 'Metrics in Prometheus text format',
        description:
          'HTTP request durations by route, deliveries by outcome, delivery latency, attempt ' +
          'durations, job queue depth and oldest due job, inbound calls by outcome, database pool ' +
          'usage, and Node.js process figures. Send `Authorization: Bearer <OPERATOR_TOKEN>` or ' +
          '`Bearer <METRICS_TOKEN>`. Figures are per process, except the queue figures, which ' +
          'every process reads from the shared database.',
        response: {
          200: {
            description: 'The metrics (text exposition format 0.0.4).',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          ...errorResponses(401, 403),
        },
      },
      logLevel: 'warn',
    },
    async (request, reply) => {
      if (accepted.length === 0) throw errors.metricsDisabled()
      const token = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1]
      const given = token === undefined ? undefined : sha256(token)
      if (!given || !accepted.some((expected) => timingSafeEqual(given, expected))) {
        throw errors.metricsUnauthorized()
      }
      const text = await metrics.registry.metrics()
      return reply.type(metrics.registry.contentType).send(text)
    },
  )
}
