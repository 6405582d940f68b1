import type { FastifyPluginAsync } from 'fastify'
import { workspaceAuth } from '../../http/auth.js'
import type { RouteDeps } from '../deps.js'
import { workspaceRoutes } from './workspace.js'

/**
 * Everything under /v1 is one workspace's view: the hook authenticates the
 * key first, and each route scopes its queries by `request.workspaceId`.
 */
export const v1Routes: FastifyPluginAsync<RouteDeps> = async (app, { config, db, pool }) => {
  // Not `register(x, opts)`: opts carries this plugin's own `prefix`, which would apply twice.
  const deps: RouteDeps = { config, db, pool }
  app.addHook('onRequest', workspaceAuth(db))
  await app.register(workspaceRoutes, deps)
}
