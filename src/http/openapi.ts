import { createRequire } from 'node:module'
import swagger from '@fastify/swagger'
import apiReference from '@scalar/fastify-api-reference'
import type { FastifyInstance } from 'fastify'
import { guides } from '../docs/guides.js'
import { BODY_OPTIONAL } from './body-optional.js'
import { completeOperations, deprecationHeaders, rateLimitHeaders } from './openapi-operations.js'

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string }

/** Scalar's look with the system fonts (its own come from a CDN). */
const DOCS_CSS = `.scalar-app { --scalar-font: system-ui, sans-serif; --scalar-font-code: ui-monospace, monospace; }`

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
        // The guides: /docs lists their headings beside the operations.
        description: guides,
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
  // Scalar: the reference with the guides in its sidebar and a "try it" client; its script is
  // served from the package (no CDN), without its web fonts, telemetry or hosted agent.
  await app.register(apiReference, {
    routePrefix: '/docs',
    logLevel: 'warn',
    configuration: {
      pageTitle: 'Hookline API reference',
      withDefaultFonts: false,
      telemetry: false,
      hideClientButton: true,
      showDeveloperTools: 'never',
      agent: { disabled: true },
      mcp: { disabled: true },
      defaultOpenAllTags: false,
      authentication: { preferredSecurityScheme: 'apiKey' },
      customCss: DOCS_CSS,
    },
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
