import { type Static, Type } from 'typebox'
import { IdParam, Nullable, page, Timestamp } from './common.js'

const workspaceExample = {
  id: 'ws_01jdgk2x7m3q9v8h6c4r2t5w1y',
  name: 'Acme Realty',
  external_id: 'crm-account-4411',
  webhooks_enabled: true,
  retention_days: 30,
  created_at: '2026-11-24T09:30:00.000Z',
  updated_at: '2026-11-24T09:30:00.000Z',
}

export const Workspace = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    external_id: Nullable(Type.String({ description: 'The host CRM’s own account id.' })),
    webhooks_enabled: Type.Boolean({
      description: 'Off: events are recorded and nothing is sent.',
    }),
    retention_days: Type.Integer({ description: 'History older than this is purged.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Workspace', additionalProperties: false, examples: [workspaceExample] },
)
export type Workspace = Static<typeof Workspace>

export const WorkspacePage = page(Workspace, 'WorkspacePage')

const name = Type.String({ minLength: 1, maxLength: 200 })
const externalId = Nullable(Type.String({ minLength: 1, maxLength: 200 }))
const retentionDays = Type.Integer({ minimum: 1, maximum: 3650 })

export const CreateWorkspaceBody = Type.Object(
  {
    name,
    external_id: Type.Optional(externalId),
    webhooks_enabled: Type.Optional(Type.Boolean()),
    retention_days: Type.Optional(retentionDays),
  },
  {
    $id: 'CreateWorkspace',
    additionalProperties: false,
    examples: [{ name: 'Acme Realty', external_id: 'crm-account-4411' }],
  },
)
export type CreateWorkspaceBody = Static<typeof CreateWorkspaceBody>

export const UpdateWorkspaceBody = Type.Object(
  {
    name: Type.Optional(name),
    external_id: Type.Optional(externalId),
    webhooks_enabled: Type.Optional(Type.Boolean()),
    retention_days: Type.Optional(retentionDays),
  },
  {
    $id: 'UpdateWorkspace',
    additionalProperties: false,
    minProperties: 1,
    examples: [{ webhooks_enabled: false }],
  },
)
export type UpdateWorkspaceBody = Static<typeof UpdateWorkspaceBody>

export const WorkspaceParams = Type.Object(
  { workspaceId: IdParam('workspace', 'ws') },
  { additionalProperties: false },
)
