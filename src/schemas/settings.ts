import { type Static, Type } from 'typebox'
import { Nullable, Timestamp } from './common.js'

const HttpUrl = Type.String({ minLength: 8, maxLength: 2000, pattern: '^https?://' })
const CrmUrl = (what: string) =>
  Type.String({
    minLength: 8,
    maxLength: 2000,
    pattern: '^https?://',
    description:
      `${what}. Checked like a rule's URL (400): no credentials, and no literal loopback, ` +
      'private, link-local or metadata address unless OUTBOUND_ALLOW_LIST allows it.',
  })

export const WorkspaceSettings = Type.Object(
  {
    webhooks_enabled: Type.Boolean({
      description:
        'Off is a pause: rule deliveries already queued or delayed wait (their delays go on ' +
        'counting) and go when switched on again; events taken meanwhile are recorded and matched ' +
        'but queue nothing; tests and inline executions answer 409 `webhooks_off`. Notices to the ' +
        'CRM callback still go. A send already under way finishes.',
    }),
    crm_callback_url: Nullable(HttpUrl),
    crm_lookup_url: Nullable(HttpUrl),
    retention_days: Type.Integer(),
    signing_secrets: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          created_at: Timestamp,
          expires_at: Nullable(Timestamp),
        },
        { additionalProperties: false },
      ),
      { description: 'Current first; rotated-out secrets still sign until they expire.' },
    ),
  },
  {
    $id: 'WorkspaceSettings',
    additionalProperties: false,
    examples: [
      {
        webhooks_enabled: true,
        crm_callback_url: 'https://crm.example.com/hookline/notices',
        crm_lookup_url: 'https://crm.example.com/hookline/lookup',
        retention_days: 30,
        signing_secrets: [
          {
            id: 'sec_01jdgk2x7m3q9v8h6c4r2t5w1y',
            created_at: '2026-11-24T09:30:00.000Z',
            expires_at: null,
          },
        ],
      },
    ],
  },
)
export type WorkspaceSettings = Static<typeof WorkspaceSettings>

export const UpdateSettingsBody = Type.Object(
  {
    webhooks_enabled: Type.Optional(
      Type.Boolean({
        description:
          'false pauses the workspace’s rule deliveries (they wait, queued); true resumes them.',
      }),
    ),
    crm_callback_url: Type.Optional(Nullable(CrmUrl('Where notices go'))),
    crm_lookup_url: Type.Optional(Nullable(CrmUrl('Where GET handlers look records up'))),
    retention_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  },
  {
    $id: 'UpdateSettings',
    additionalProperties: false,
    minProperties: 1,
    examples: [{ crm_callback_url: 'https://crm.example.com/hookline/notices' }],
  },
)
export type UpdateSettingsBody = Static<typeof UpdateSettingsBody>

export const SigningSecret = Type.Object(
  {
    id: Type.String(),
    secret: Type.String({
      description:
        '`whsec_` + base64: verify Hookline’s signatures with it (HMAC-SHA256 keyed with the ' +
        'base64-decoded part). Signed: the raw body; for GET and DELETE, the path and query as sent.',
    }),
    created_at: Timestamp,
    expires_at: Nullable(Timestamp),
  },
  {
    $id: 'SigningSecret',
    additionalProperties: false,
    examples: [
      {
        id: 'sec_01jdgk2x7m3q9v8h6c4r2t5w1y',
        secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        created_at: '2026-11-24T09:30:00.000Z',
        expires_at: null,
      },
    ],
  },
)

export const RotateSecretBody = Type.Object(
  {
    overlap_seconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 30 * 86400,
        default: 86400,
        description: 'How long the old secret keeps signing beside the new one.',
      }),
    ),
  },
  { $id: 'RotateSecret', additionalProperties: false, examples: [{ overlap_seconds: 86400 }] },
)
