import { ApiKey, ApiKeyPage, CreateApiKeyBody, IssuedApiKey } from './api-keys.js'
import { ErrorResponse } from './common.js'
import { Health, Readiness } from './health.js'
import { CreateWorkspaceBody, UpdateWorkspaceBody, Workspace, WorkspacePage } from './workspaces.js'

/**
 * Every schema with an `$id`. Registered once with Fastify (validation and
 * serialization resolve `$ref`s against them) and emitted as
 * `components.schemas` in the OpenAPI document.
 */
export const sharedSchemas = [
  ErrorResponse,
  Health,
  Readiness,
  Workspace,
  WorkspacePage,
  CreateWorkspaceBody,
  UpdateWorkspaceBody,
  ApiKey,
  ApiKeyPage,
  IssuedApiKey,
  CreateApiKeyBody,
]
