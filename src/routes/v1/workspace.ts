import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, ref } from '../../schemas/common.js'
import { Workspace } from '../../schemas/workspaces.js'
import { getWorkspace } from '../../workspaces/workspace-service.js'
import type { RouteDeps } from '../deps.js'

export const workspaceRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db }) => {
  app.get(
    '/workspace',
    {
      schema: {
        tags: ['workspace'],
        summary: 'The workspace this API key belongs to',
        description: 'A quick way to check a key works and see which workspace it opens.',
        response: { 200: ref(Workspace, 'The workspace.'), ...errorResponses(401) },
      },
    },
    async (request) => getWorkspace(db, request.workspaceId),
  )
}
