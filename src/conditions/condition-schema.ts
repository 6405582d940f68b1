import { type Static, Type } from 'typebox'

/**
 * The condition language shared by outbound rules and inbound handlers:
 * `{ all: [...] }` / `{ any: [...] }` groups whose items are groups or tests.
 *
 * The schemas check shape only. Whether a test's value suits its operator
 * ('in' needs an array, 'is_empty' takes none) is checked by
 * `validateCondition`, which can name the operator in its message; a JSON
 * Schema `oneOf` per operator would answer with a wall of branch errors.
 */

export const ConditionOperator = Type.Enum(
  [
    'equals',
    'not_equals',
    'contains',
    'not_contains',
    'starts_with',
    'ends_with',
    'is_empty',
    'is_not_empty',
    'greater_than',
    'less_than',
    'in',
    'not_in',
    'changed',
    'changed_from_to',
  ],
  { description: 'How the field is compared.' },
)
export type ConditionOperator = Static<typeof ConditionOperator>

/**
 * `lead.status`, `lead.tags.0` or `lead.tags[0]`: dot-separated names, with
 * numeric segments (or brackets) indexing arrays. Names may contain spaces, as
 * CRMs' custom fields do.
 */
export const FIELD_PATH_PATTERN = '^[^.\\[\\]]+(?:\\.[^.\\[\\]]+|\\[[0-9]+\\])*$'

export const ConditionScalar = Type.Union(
  [Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean(), Type.Null()],
  { description: 'A constant to compare with.' },
)

export const ConditionTest = Type.Object(
  {
    field: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: FIELD_PATH_PATTERN,
      description: 'Dot path into the record, e.g. `lead.status` or `lead.tags.0`.',
    }),
    op: ConditionOperator,
    value: Type.Optional(
      Type.Union([ConditionScalar, Type.Array(ConditionScalar, { maxItems: 500 })], {
        description:
          'The operand: an array for `in`/`not_in`, none for the `is_*` and `changed` tests.',
      }),
    ),
    from: Type.Optional(ConditionScalar),
    to: Type.Optional(ConditionScalar),
  },
  {
    $id: 'ConditionTest',
    additionalProperties: false,
    examples: [{ field: 'lead.status', op: 'equals', value: 'Qualified' }],
  },
)
export type ConditionTest = Static<typeof ConditionTest>

const conditionItems = Type.Array(
  Type.Union([Type.Ref('ConditionGroup'), Type.Ref('ConditionTest')]),
  { maxItems: 100 },
)

/**
 * Self-referencing through `$ref`s to the two `$id`s, so both register as flat
 * shared schemas (and OpenAPI components) like every other schema.
 */
export const ConditionGroup = Type.Union(
  [
    Type.Object({ all: conditionItems }, { additionalProperties: false }),
    Type.Object({ any: conditionItems }, { additionalProperties: false }),
  ],
  {
    $id: 'ConditionGroup',
    description: '`all` matches when every item matches; `any` when at least one does.',
    examples: [
      {
        all: [
          { field: 'lead.status', op: 'equals', value: 'Qualified' },
          { field: 'lead.case_type', op: 'in', value: ['A', 'B'] },
          { any: [{ field: 'lead.tracker_code', op: 'is_not_empty' }] },
        ],
      },
    ],
  },
)

/**
 * Written by hand because TypeBox's `Static` of a self-referencing schema
 * turns into `any` after two levels; the unit tests check that both agree.
 */
export type ConditionGroup = { all: ConditionItem[] } | { any: ConditionItem[] }
export type ConditionItem = ConditionGroup | ConditionTest

/** Register both with Fastify (`sharedSchemas`); each refers to the other by `$id`. */
export const conditionSchemas = [ConditionTest, ConditionGroup] as const
