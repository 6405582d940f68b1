import { type Static, Type } from 'typebox'
import { IdParam, Nullable, Timestamp } from './common.js'

export const CreateMassPostBody = Type.Object(
  { records: Type.Array(Type.Ref('Record'), { minItems: 1, maxItems: 100_000 }) },
  {
    $id: 'CreateMassPost',
    additionalProperties: false,
    examples: [
      {
        records: [
          {
            entity_type: 'lead',
            entity_id: 'L-1',
            fields: { lead: { id: 'L-1', email: 'a@example.com' } },
          },
          {
            entity_type: 'lead',
            entity_id: 'L-2',
            fields: { lead: { id: 'L-2', email: 'b@example.com' } },
          },
        ],
      },
    ],
  },
)

export const MassPost = Type.Object(
  {
    id: Type.String(),
    rule_id: Nullable(Type.String()),
    status: Type.Enum(['draft', 'posting', 'posted', 'cancelled'], {
      description:
        '`draft` until started; `posting` while deliveries are being made; `posted` when all are queued.',
    }),
    total: Type.Integer(),
    progress: Type.Object(
      {
        done: Type.Integer({ description: 'Finished: succeeded, failed or cancelled.' }),
        succeeded: Type.Integer(),
        failed: Type.Integer(),
        cancelled: Type.Integer(),
        remaining: Type.Integer(),
      },
      { additionalProperties: false },
    ),
    created_at: Timestamp,
    started_at: Nullable(Timestamp),
    finished_at: Nullable(Timestamp),
  },
  {
    $id: 'MassPost',
    additionalProperties: false,
    examples: [
      {
        id: 'mp_01jdgk2x7m3q9v8h6c4r2t5w1y',
        rule_id: 'rul_01jdgk2x7m3q9v8h6c4r2t5w1y',
        status: 'posting',
        total: 2,
        progress: { done: 1, succeeded: 1, failed: 0, cancelled: 0, remaining: 1 },
        created_at: '2026-11-24T09:30:00.000Z',
        started_at: '2026-11-24T09:31:00.000Z',
        finished_at: null,
      },
    ],
  },
)
export type MassPost = Static<typeof MassPost>

export const MassPostItem = Type.Object(
  {
    index: Type.Integer(),
    entity_type: Type.String(),
    entity_id: Type.String(),
    delivery_id: Nullable(Type.String()),
    status: Type.Enum(['pending', 'queued', 'delivering', 'succeeded', 'failed', 'cancelled']),
    response_status: Nullable(Type.Integer()),
    last_error: Nullable(Type.String()),
  },
  { $id: 'MassPostItem', additionalProperties: false },
)

export const MassPostItemPage = Type.Object(
  { data: Type.Array(Type.Ref('MassPostItem')), next_cursor: Nullable(Type.String()) },
  { $id: 'MassPostItemPage', additionalProperties: false },
)

export const MassPostPreview = Type.Object(
  {
    index: Type.Integer(),
    total: Type.Integer(),
    record: Type.Ref('Record'),
    preview: Type.Ref('PreviewResult'),
    next_index: Nullable(
      Type.Integer({ description: 'The next record to preview; null after the last.' }),
    ),
  },
  { $id: 'MassPostPreview', additionalProperties: false },
)

export const MassPostParams = Type.Object(
  { massPostId: IdParam('mass post', 'mp') },
  { additionalProperties: false },
)
export const PreviewQuery = Type.Object(
  { index: Type.Integer({ minimum: 0, default: 0 }) },
  { additionalProperties: false },
)
