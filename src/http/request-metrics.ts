import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../metrics.js'

/**
 * Times every request into `hookline_http_request_duration_seconds`. Labelled
 * by the route's pattern (`/v1/rules/:ruleId`, `/in/:token`), never the URL,
 * so tokens and ids stay out of the metrics and the series stay few; requests
 * that matched no route share `route="unmatched"`.
 */
export function registerRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequestDuration.observe(
      {
        route: request.routeOptions.url ?? 'unmatched',
        method: request.method,
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    )
    done()
  })
}
