import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import * as apiKeys from '../../api-keys/api-key-service.js'
import { operatorAuth } from '../../http/auth.js'
import { markDeprecated } from '../../http/deprecation.js'
import {
  ApiKey,
  ApiKeyPage,
  ApiKeyParams,
  CreateApiKeyBody,
  IssuedApiKey,
} from '../../schemas/api-keys.js'
import { errorResponses, PageQuery, ref } from '../../schemas/common.js'
import {
  CreateWorkspaceBody,
  UpdateWorkspaceBody,
  Workspace,
  WorkspacePage,
  WorkspaceParams,
} from '../../schemas/workspaces.js'
import * as workspaces from '../../workspaces/workspace-service.js'
import type { RouteDeps } from '../deps.js'

const tags = ['operator']
const security = [{ operatorToken: [] }]

/** The operator API: workspaces and their keys. Authenticated by OPERATOR_TOKEN. */
export const operatorRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, config, apiKeyCache },
) => {
  app.addHook('onRequest', operatorAuth(config.operatorToken))

  app.post(
    '/workspaces',
    {
      schema: {
        tags,
        security,
        summary: 'Create a workspace',
        description: 'A workspace is one host-CRM account; every resource belongs to one.',
        body: ref(CreateWorkspaceBody),
        response: {
          201: ref(Workspace, 'The new workspace.'),
          ...errorResponses(400, 401, 403, 409),
        },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await workspaces.createWorkspace(db, request.body)),
  )

  app.get(
    '/workspaces',
    {
      schema: {
        tags,
        security,
        summary: 'List workspaces',
        description: 'Newest first, cursor-paginated.',
        querystring: PageQuery,
        response: {
          200: ref(WorkspacePage, 'One page of workspaces.'),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request) => workspaces.listWorkspaces(db, request.query),
  )

  app.get(
    '/workspaces/:workspaceId',
    {
      schema: {
        tags,
        security,
        summary: 'Get a workspace',
        description:
          'Its name, external id, whether webhooks are on, and how long its history is kept.',
        params: WorkspaceParams,
        response: { 200: ref(Workspace, 'The workspace.'), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => workspaces.getWorkspace(db, request.params.workspaceId),
  )

  app.patch(
    '/workspaces/:workspaceId',
    {
      schema: {
        tags,
        security,
        summary: 'Update a workspace',
        description: 'Only the properties sent change.',
        params: WorkspaceParams,
        body: ref(UpdateWorkspaceBody),
        response: {
          200: ref(Workspace, 'The updated workspace.'),
          ...errorResponses(400, 401, 403, 404, 409),
        },
      },
    },
    async (request) => workspaces.updateWorkspace(db, request.params.workspaceId, request.body),
  )

  app.delete(
    '/workspaces/:workspaceId',
    {
      schema: {
        tags,
        security,
        summary: 'Delete a workspace and everything in it',
        description: 'Final: its keys, rules, handlers and history go with it.',
        params: WorkspaceParams,
        response: {
          204: Type.Null({ description: 'Deleted.' }),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      await workspaces.deleteWorkspace(db, request.params.workspaceId)
      apiKeyCache.clear()
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/workspaces/:workspaceId/api-keys',
    {
      schema: {
        tags,
        security,
        summary: 'Issue an API key',
        description: 'The answer holds the key itself, once. Hookline stores only its hash.',
        params: WorkspaceParams,
        body: ref(CreateApiKeyBody),
        response: {
          201: ref(IssuedApiKey, 'The new key, with its secret shown this once.'),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(await apiKeys.issueApiKey(db, request.params.workspaceId, request.body.name)),
  )

  app.get(
    '/workspaces/:workspaceId/api-keys',
    {
      schema: {
        tags,
        security,
        summary: 'List a workspace’s API keys',
        description: 'Newest first, revoked keys included; secrets are never shown again.',
        params: WorkspaceParams,
        querystring: PageQuery,
        response: {
          200: ref(ApiKeyPage, 'One page of keys.'),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => apiKeys.listApiKeys(db, request.params.workspaceId, request.query),
  )

  app.delete(
    '/workspaces/:workspaceId/api-keys/:keyId',
    {
      schema: {
        tags,
        security,
        summary: 'Revoke an API key',
        description:
          'The key stops working at once in the process that answers, and within `API_KEY_CACHE_MS` ' +
          '(1 s by default) in any other API process. Revoking twice is harmless. Send `Prefer: return=minimal` for ' +
          'the answer every DELETE gives, 204 with no body (`Preference-Applied: return=minimal`). ' +
          'Without it the answer is still 200 with the revoked key, deprecated (`Deprecation` and ' +
          '`Sunset` headers): from the Sunset date, 204 will be the only answer.',
        params: ApiKeyParams,
        headers: Type.Object({
          prefer: Type.Optional(
            Type.String({
              maxLength: 1000,
              description: '`return=minimal`: answer 204 with no body (RFC 7240).',
              examples: ['return=minimal'],
            }),
          ),
        }),
        response: {
          200: ref(ApiKey, 'Deprecated: the revoked key (without `Prefer: return=minimal`).'),
          204: Type.Null({ description: 'Revoked (with `Prefer: return=minimal`).' }),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const key = await apiKeys.revokeApiKey(db, request.params.workspaceId, request.params.keyId)
      apiKeyCache.clear()
      if (prefersMinimal(request.headers.prefer)) {
        return reply.code(204).header('preference-applied', 'return=minimal').send(null)
      }
      markDeprecated(reply)
      return key
    },
  )
}

/** Whether a `Prefer` header (RFC 7240: comma-separated preferences) asks for `return=minimal`. */
function prefersMinimal(prefer: string | undefined): boolean {
  return (prefer ?? '')
    .split(',')
    .some((p) => /^return\s*=\s*"?minimal"?$/i.test(p.split(';')[0]?.trim() ?? ''))
}
