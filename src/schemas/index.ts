import { conditionSchemas } from '../conditions/condition-schema.js'
import { ApiKey, ApiKeyPage, CreateApiKeyBody, IssuedApiKey } from './api-keys.js'
import { callSchemas } from './calls.js'
import { EventType, EventTypePage, Field, FieldList, UpsertEventTypeBody } from './catalog.js'
import { ErrorResponse } from './common.js'
import {
  Delivery,
  DeliveryAttempt,
  DeliveryDetail,
  DeliveryPage,
  RetryFailedBody,
  RetryFailedResult,
} from './deliveries.js'
import { EventBatch, EventBatchResult, EventDetail, EventInput, EventResult } from './events.js'
import { handlerSchemas } from './handlers.js'
import { Health, Readiness } from './health.js'
import {
  CreateMassPostBody,
  MassPost,
  MassPostItem,
  MassPostItemPage,
  MassPostPreview,
} from './mass-posts.js'
import {
  ExecuteBody,
  ExecuteResult,
  PreviewResult,
  RecordBody,
  TestResult,
} from './rule-actions.js'
import { ruleSchemas } from './rules.js'
import {
  RotateSecretBody,
  SigningSecret,
  UpdateSettingsBody,
  WorkspaceSettings,
} from './settings.js'
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
  WorkspaceSettings,
  UpdateSettingsBody,
  SigningSecret,
  RotateSecretBody,
  EventType,
  EventTypePage,
  UpsertEventTypeBody,
  Field,
  FieldList,
  ...conditionSchemas,
  ...ruleSchemas,
  RecordBody,
  ExecuteBody,
  PreviewResult,
  TestResult,
  ExecuteResult,
  DeliveryAttempt,
  Delivery,
  DeliveryDetail,
  DeliveryPage,
  RetryFailedBody,
  RetryFailedResult,
  EventInput,
  EventBatch,
  EventResult,
  EventBatchResult,
  EventDetail,
  CreateMassPostBody,
  MassPost,
  MassPostItem,
  MassPostItemPage,
  MassPostPreview,
  ...handlerSchemas,
  ...callSchemas,
]
