import { createRequire } from 'node:module'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import { completeOperations, deprecationHeaders, rateLimitHeaders } from './openapi-operations.js'

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string }

/**
 * Marks a route's documented body as optional (@fastify/swagger makes every
 * body it documents required); an `x-` key, so it reaches the operation and
 * `transformObject` below can act on it and drop it.
 */
export const BODY_OPTIONAL = 'x-hookline-body-optional'

const LOGO = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40" viewBox="0 0 160 40">' +
    '<text x="0" y="29" font-family="system-ui, sans-serif" font-size="28" font-weight="700" ' +
    'fill="#ffffff">Hookline</text></svg>',
)

/**
 * OpenAPI 3.1 from the route schemas. Shared schemas keep their `$id` as the
 * component name, so `$ref: 'Workspace'` becomes `#/components/schemas/Workspace`.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Hookline API',
        version,
        license: { name: 'Proprietary', identifier: 'LicenseRef-Hookline-Proprietary' },
        description:
          'Headless webhooks for CRMs: outbound rules and deliveries, inbound handlers and calls. ' +
          'Errors are `{ statusCode, code, error, message }`; lists are `{ data, next_cursor }`.',
      },
      // Relative: the service that serves this document (and /docs' "try it") is the one to call.
      servers: [{ url: '/', description: 'The Hookline service serving this document.' }],
      tags: [
        { name: 'workspace', description: 'The workspace of the calling API key.' },
        {
          name: 'settings',
          description: 'Webhooks on/off, CRM callback and lookup URLs, signing secrets.',
        },
        { name: 'catalog', description: 'The workspace’s event types and fields.' },
        { name: 'rules', description: 'Outbound webhooks: what to send, when, and how.' },
        { name: 'events', description: 'The CRM’s events, which trigger rules.' },
        {
          name: 'mass posts',
          description: 'One rule over a list of records: preview, post, progress.',
        },
        { name: 'deliveries', description: 'The history: every send, its attempts and outcome.' },
        {
          name: 'handlers',
          description: 'Inbound webhooks: public endpoints that check, map and forward calls.',
        },
        {
          name: 'calls',
          description: 'The inbound call log: every request to a handler and its outcome.',
        },
        { name: 'inbound', description: 'The public endpoint senders call; no API key.' },
        { name: 'operator', description: 'Workspaces and API keys; needs the operator token.' },
        { name: 'operations', description: 'Health and readiness probes, metrics.' },
      ],
      // /v1 by default; operator and health routes say otherwise.
      security: [{ apiKey: [] }],
      components: {
        headers: { ...rateLimitHeaders, ...deprecationHeaders },
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'A workspace API key (`hl_…`), issued by the operator API.',
          },
          operatorToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'The OPERATOR_TOKEN the service was started with.',
          },
          metricsToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'The METRICS_TOKEN the service was started with (`/metrics` only).',
          },
        },
      },
    },
    transformObject: (document) => {
      if (!('openapiObject' in document)) return document.swaggerObject
      completeOperations(document.openapiObject.paths as Record<string, Record<string, unknown>>)
      for (const path of Object.values(document.openapiObject.paths ?? {})) {
        for (const operation of Object.values(path ?? {}) as Record<string, unknown>[]) {
          if (!operation || typeof operation !== 'object' || !(BODY_OPTIONAL in operation)) continue
          delete operation[BODY_OPTIONAL]
          const body = operation.requestBody as { required?: boolean } | undefined
          if (body) body.required = false
        }
      }
      return document.openapiObject
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`),
    },
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // Hookline's name, not Fastify's logo, in the tab and the header.
    theme: { title: 'Hookline API reference' },
    logo: { type: 'image/svg+xml', content: LOGO, href: '/docs' },
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
