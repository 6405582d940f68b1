import type { FastifyPluginAsync } from 'fastify'
import { workspaceAuth } from '../../http/auth.js'
import { WorkspaceRateLimit } from '../../http/rate-limit.js'
import type { RouteDeps } from '../deps.js'
import { callRoutes } from './calls.js'
import { catalogRoutes } from './catalog.js'
import { deliveryRoutes } from './deliveries.js'
import { eventRoutes } from './events.js'
import { handlerRoutes } from './handlers.js'
import { massPostRoutes } from './mass-posts.js'
import { ruleRoutes } from './rules.js'
import { settingsRoutes } from './settings.js'
import { workspaceRoutes } from './workspace.js'

/**
 * Everything under /v1 is one workspace's view: the hook authenticates the
 * key first, and each route scopes its queries by `request.workspaceId`.
 */
export const v1Routes: FastifyPluginAsync<RouteDeps> = async (
  app,
  { config, db, readDb, pool, box, engine, metrics, inbound, apiKeyCache },
) => {
  // Not `register(x, opts)`: opts carries this plugin's own `prefix`, which would apply twice.
  const deps: RouteDeps = { config, db, readDb, pool, box, engine, metrics, inbound, apiKeyCache }
  app.addHook('onRequest', workspaceAuth(apiKeyCache))
  // 0 turns the limit off.
  if (config.apiRatePerMinute > 0) {
    app.addHook('onRequest', new WorkspaceRateLimit(config.apiRatePerMinute).hook())
  }
  for (const routes of [
    workspaceRoutes,
    settingsRoutes,
    catalogRoutes,
    ruleRoutes,
    eventRoutes,
    deliveryRoutes,
    massPostRoutes,
    handlerRoutes,
    callRoutes,
  ]) {
    await app.register(routes, deps)
  }
}
