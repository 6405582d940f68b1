import { type Static, Type } from 'typebox'
import { Nullable, page, ref, Timestamp } from './common.js'

export const EVENT_TYPE_PATTERN = '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$'

export const EventTypeName = Type.String({
  minLength: 3,
  maxLength: 100,
  pattern: EVENT_TYPE_PATTERN,
  description: 'Dot-delimited, lower case: `lead.created`, `note.added`.',
  examples: ['lead.created'],
})

export const EventType = Type.Object(
  {
    name: EventTypeName,
    description: Type.String(),
    schema: Nullable(
      Type.Object(
        {},
        { additionalProperties: true, description: 'JSON Schema of the record fields.' },
      ),
    ),
    sample: Nullable(
      Type.Object(
        {},
        { additionalProperties: true, description: 'A sample record, used by previews.' },
      ),
    ),
    archived: Type.Boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  {
    $id: 'EventType',
    additionalProperties: false,
    examples: [
      {
        name: 'lead.created',
        description: 'A lead was created.',
        schema: null,
        sample: { lead: { id: 'L-1001', email: 'ada@example.com', status: 'New' } },
        archived: false,
        created_at: '2026-11-24T09:30:00.000Z',
        updated_at: '2026-11-24T09:30:00.000Z',
      },
    ],
  },
)
export type EventType = Static<typeof EventType>
export const EventTypePage = page(EventType, 'EventTypePage')

export const UpsertEventTypeBody = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    schema: Type.Optional(Nullable(Type.Object({}, { additionalProperties: true }))),
    sample: Type.Optional(Nullable(Type.Object({}, { additionalProperties: true }))),
    archived: Type.Optional(Type.Boolean()),
  },
  {
    $id: 'UpsertEventType',
    additionalProperties: false,
    examples: [{ description: 'A lead was created.', sample: { lead: { id: 'L-1001' } } }],
  },
)
export type UpsertEventTypeBody = Static<typeof UpsertEventTypeBody>

export const FieldKey = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '^[^.\\[\\]\\s]+(\\.[^.\\[\\]\\s]+)*$',
  description: 'Dot path as templates and conditions name it: `lead.email`.',
})

export const Field = Type.Object(
  {
    key: FieldKey,
    label: Type.String({ minLength: 1, maxLength: 200 }),
    type: Type.Enum(['string', 'number', 'boolean', 'date', 'email', 'phone', 'object', 'array']),
    entity: Type.String({ minLength: 1, maxLength: 100, description: 'e.g. `lead`, `contact`.' }),
  },
  {
    $id: 'Field',
    additionalProperties: false,
    examples: [{ key: 'lead.email', label: 'Email', type: 'email', entity: 'lead' }],
  },
)
export type Field = Static<typeof Field>

export const FieldList = Type.Object(
  { data: Type.Array(ref(Field), { maxItems: 5000 }) },
  {
    $id: 'FieldList',
    additionalProperties: false,
    examples: [{ data: [{ key: 'lead.email', label: 'Email', type: 'email', entity: 'lead' }] }],
  },
)
