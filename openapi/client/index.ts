// A typed client for Hookline's API, generated from openapi/openapi.json
// (`npm run client` rewrites schema.d.ts; a test fails when it is stale).
import createClient, { type Client } from 'openapi-fetch'
import type { paths } from './schema.js'

export type { components, operations, paths } from './schema.js'

export type HooklineClient = Client<paths>

/**
 * `key`: a workspace API key (`hl_…`) for `/v1`, or the operator token for
 * `/operator` and `/metrics`. Paths, parameters, bodies and answers are typed.
 */
export function createHooklineClient(
  baseUrl: string,
  key: string,
  options: { fetch?: typeof globalThis.fetch } = {},
): HooklineClient {
  return createClient<paths>({
    baseUrl,
    headers: { authorization: `Bearer ${key}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
}
