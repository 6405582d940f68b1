import { type Static, Type } from 'typebox'
import { IdParam, Nullable, page, Timestamp } from './common.js'

const apiKeyExample = {
  id: 'key_01jdgk3a1b2c3d4e5f6g7h8j9k',
  workspace_id: 'ws_01jdgk2x7m3q9v8h6c4r2t5w1y',
  name: 'CRM production',
  prefix: 'hl_4f9a2c1e',
  created_at: '2026-11-24T09:30:00.000Z',
  last_used_at: null,
  revoked_at: null,
}

export const ApiKey = Type.Object(
  {
    id: Type.String(),
    workspace_id: Type.String(),
    name: Type.String(),
    prefix: Type.String({ description: 'The first characters of the key, to tell keys apart.' }),
    created_at: Timestamp,
    last_used_at: Nullable(Timestamp),
    revoked_at: Nullable(Timestamp),
  },
  { $id: 'ApiKey', additionalProperties: false, examples: [apiKeyExample] },
)
export type ApiKey = Static<typeof ApiKey>

export const IssuedApiKey = Type.Object(
  {
    ...ApiKey.properties,
    key: Type.String({
      description: 'The secret key. Shown once, in this response only; Hookline keeps a hash.',
    }),
  },
  {
    $id: 'IssuedApiKey',
    additionalProperties: false,
    examples: [{ ...apiKeyExample, key: 'hl_4f9a2c1e_Zr0n3o4kq1mX8Jb2wYcV5tL9pQe7uHs6' }],
  },
)
export type IssuedApiKey = Static<typeof IssuedApiKey>

export const ApiKeyPage = page(ApiKey, 'ApiKeyPage')

export const CreateApiKeyBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }) },
  { $id: 'CreateApiKey', additionalProperties: false, examples: [{ name: 'CRM production' }] },
)

export const ApiKeyParams = Type.Object(
  { workspaceId: IdParam('workspace', 'ws'), keyId: IdParam('API key', 'key') },
  { additionalProperties: false },
)
