import { Type } from 'typebox'

export const Health = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('unhealthy')]),
    reason: Type.Optional(Type.String({ description: 'Why the process is unhealthy.' })),
  },
  { $id: 'Health', additionalProperties: false, examples: [{ status: 'ok' }] },
)

export const Readiness = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
    database: Type.Boolean({ description: 'A query reached the database.' }),
    pending_migrations: Type.Array(Type.String(), {
      description: 'Migration files not yet applied.',
    }),
  },
  {
    $id: 'Readiness',
    additionalProperties: false,
    examples: [{ status: 'ready', database: true, pending_migrations: [] }],
  },
)
