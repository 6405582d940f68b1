import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { mergePatchBody, wellFormedId } from '../../http/merge-patch.js'
import * as handlers from '../../inbound/handler-service.js'
import { sampleParameters } from '../../inbound/sample-parameters.js'
import { errorResponses, ref } from '../../schemas/common.js'
import {
  CreateHandlerBody,
  type HandlerInput,
  RotateHandlerSecretBody,
  SampleBody,
  SampleParameters,
  UpdateHandlerBody,
} from '../../schemas/handler-bodies.js'
import { Handler, HandlerListQuery, HandlerPage, HandlerParams } from '../../schemas/handlers.js'
import type { RouteDeps } from '../deps.js'

const tags = ['handlers']

/** Inbound webhooks: the handlers behind the public `/in/<token>` endpoints. */
export const handlerRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, box, config, inbound },
) => {
  const ctx = (workspaceId: string): handlers.HandlerContext => ({
    db,
    box,
    workspaceId,
    publicBaseUrl: config.publicBaseUrl,
    cache: inbound.cache,
  })

  app.post(
    '/handlers',
    {
      schema: {
        tags,
        summary: 'Create a handler',
        description:
          'An inbound webhook: a public endpoint (`endpoint_url`) that records every call, verifies the sender, ' +
          'parses and coerces the parameters, filters by conditions, drops duplicates within the protection ' +
          'period, maps the parameters to CRM fields and forwards the record to the CRM callback as an ' +
          '`inbound.record` notice (POST), or answers from the CRM lookup (GET). Mapping targets are checked ' +
          'against the field catalog, templates and conditions on save; conditions may not use `changed` or ' +
          '`changed_from_to` (a call has no previous fields: 400 naming the test).',
        body: ref(CreateHandlerBody),
        response: {
          201: ref(Handler, 'The new handler, with its endpoint URL.'),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await handlers.createHandler(
            ctx(request.workspaceId),
            request.body as HandlerInput & { title: string },
          ),
        ),
  )

  app.get(
    '/handlers',
    {
      schema: {
        tags,
        summary: 'List handlers with their call counts',
        description:
          'Newest first. Each handler carries its calls in the window (`calls_since`–`calls_until`, default the ' +
          'last 7 days) by outcome.',
        querystring: HandlerListQuery,
        response: { 200: ref(HandlerPage, 'One page of handlers.'), ...errorResponses(400, 401) },
      },
    },
    async (request) => handlers.listHandlers(ctx(request.workspaceId), request.query),
  )

  app.post(
    '/handlers/sample-parameters',
    {
      schema: {
        tags,
        summary: 'Turn a sample call into parameters',
        description:
          'Give a JSON document (or a form-urlencoded or XML body as text) such as the sender sends; answers ' +
          'one optional parameter per value, with nested paths (`customer.email`, `items[0].sku`) and a ' +
          'guessed type, ready to edit and save as the handler’s `parameters`.',
        body: ref(SampleBody),
        response: {
          200: ref(SampleParameters, 'The parameters found.'),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => ({
      parameters: sampleParameters(
        request.body as { format: 'json'; sample: string | Record<string, unknown> },
      ),
    }),
  )

  app.get(
    '/handlers/:handlerId',
    {
      schema: {
        tags,
        summary: 'Get a handler',
        description:
          'With its endpoint URL; verification secrets are never shown (`secret_set` says one is stored).',
        params: HandlerParams,
        response: { 200: ref(Handler, 'The handler.'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => handlers.getHandler(ctx(request.workspaceId), request.params.handlerId),
  )

  app.patch(
    '/handlers/:handlerId',
    {
      schema: {
        tags,
        summary: 'Update a handler',
        description:
          'Send `content-type: application/merge-patch+json` (RFC 7396): top-level properties sent replace ' +
          'the stored ones, and the nested objects `response` and `protection` are merged member by member ' +
          '(`null` removes a member, which takes its default). `conditions` and `verification` are replaced ' +
          'whole; a verification of the stored type may leave its secret out to keep it (and any old secret ' +
          'in its rotation overlap). With `application/json` (deprecated for nested objects) a nested object ' +
          'sent replaces the stored one, members left out taking their defaults. `{}` is refused (400).',
        params: HandlerParams,
        body: ref(UpdateHandlerBody),
        response: { 200: ref(Handler, 'The updated handler.'), ...errorResponses(400, 401, 404) },
      },
      preValidation: mergePatchBody(['response', 'protection'], async (request) => {
        const { handlerId } = request.params as { handlerId?: unknown }
        if (!wellFormedId(handlerId)) return undefined
        const row = await handlers.getHandlerRow(ctx(request.workspaceId), handlerId)
        const protection = {
          period_seconds: row.protection_seconds,
          parameters: row.protection_parameters,
        }
        return { response: row.response, protection }
      }),
    },
    async (request) =>
      handlers.updateHandler(
        ctx(request.workspaceId),
        request.params.handlerId,
        request.body as HandlerInput,
      ),
  )

  app.delete(
    '/handlers/:handlerId',
    {
      schema: {
        tags,
        summary: 'Delete a handler',
        description: 'Final: its endpoint answers 404 at once and its call log is deleted with it.',
        params: HandlerParams,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await handlers.deleteHandler(ctx(request.workspaceId), request.params.handlerId)
      return reply.code(204).send(null)
    },
  )

  for (const action of ['enable', 'disable'] as const) {
    app.post(
      `/handlers/:handlerId/${action}`,
      {
        schema: {
          tags,
          summary: action === 'enable' ? 'Enable a handler' : 'Disable a handler',
          description:
            action === 'enable'
              ? 'Calls are processed again.'
              : 'Calls are still recorded, as `inactive`, answered 503 and not forwarded.',
          params: HandlerParams,
          response: { 200: ref(Handler, 'The handler.'), ...errorResponses(400, 401, 404) },
        },
      },
      async (request) =>
        handlers.setHandlerActive(
          ctx(request.workspaceId),
          request.params.handlerId,
          action === 'enable',
        ),
    )
  }

  app.post(
    '/handlers/:handlerId/rotate-secret',
    {
      schema: {
        tags,
        summary: 'Rotate the verification secret',
        description:
          'As outbound signing secrets rotate: the new secret (for `basic`, the password) is the one ' +
          'verified from now on, and the current one stays accepted for `overlap_seconds` (default a day; ' +
          'see `verification.previous_secrets`), so the sender can switch without a refused call. 409 for ' +
          'a handler that verifies no secret. Sending a verification with a new secret in a PATCH replaces ' +
          'it at once, with no overlap.',
        params: HandlerParams,
        body: ref(RotateHandlerSecretBody),
        response: {
          200: ref(Handler, 'The handler with its new secret in place.'),
          ...errorResponses(400, 401, 404, 409),
        },
      },
    },
    async (request) =>
      handlers.rotateHandlerSecret(
        ctx(request.workspaceId),
        request.params.handlerId,
        request.body as { secret: string; overlap_seconds?: number },
      ),
  )

  app.post(
    '/handlers/:handlerId/rotate-token',
    {
      schema: {
        tags,
        summary: 'Rotate the endpoint token',
        description:
          'A new `endpoint_url`. The old one answers 404 at once (in other processes within ' +
          'INBOUND_HANDLER_CACHE_MS): give the sender the new URL first.',
        params: HandlerParams,
        response: {
          200: ref(Handler, 'The handler with its new endpoint URL.'),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) =>
      handlers.rotateHandlerToken(ctx(request.workspaceId), request.params.handlerId),
  )
}
