import { type Static, type TObject, type TSchema, Type } from 'typebox'

/**
 * A `$ref` to a shared schema that keeps the referenced schema's static type.
 * Shared schemas are registered once (src/schemas/index.ts) and become named
 * OpenAPI components; routes point at them instead of inlining copies.
 */
export function ref<T extends TSchema>(schema: T, description?: string) {
  const id = (schema as { $id?: unknown }).$id
  if (typeof id !== 'string') throw new TypeError('ref() needs a schema with an $id')
  return Type.Unsafe<Static<T>>(Type.Ref(id, description ? { description } : {}))
}

/** The component every error answer points at (not `Error`: generated code would shadow the built-in). */
export const ERROR_SCHEMA = 'ErrorResponse'

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({
      description: 'The HTTP status, repeated for clients that lose it.',
    }),
    code: Type.String({ description: 'Stable machine-readable code; branch on this.' }),
    error: Type.String({ description: 'The HTTP status text.' }),
    message: Type.String({
      description: 'What went wrong, naming the field when one is at fault.',
    }),
    errors: Type.Optional(
      Type.Array(
        Type.Object(
          {
            path: Type.String({
              description:
                'Where: `body/…`, `querystring/…`, `params/…` (a JSON pointer into that part), or `request`.',
            }),
            code: Type.String({
              description:
                'The check that failed: the JSON Schema keyword in snake_case (`required`, `type`, ' +
                '`additional_properties`, `format`, `max_length`, …), or `invalid` for checks beyond ' +
                'the schema (templates, conditions, catalog names).',
            }),
            message: Type.String({ description: 'Why, without the path.' }),
          },
          { additionalProperties: false },
        ),
        {
          description:
            'Every problem found, when validation failed (`validation_failed`); `message` names the first one meant.',
        },
      ),
    ),
  },
  {
    $id: ERROR_SCHEMA,
    additionalProperties: false,
    examples: [
      {
        statusCode: 400,
        code: 'validation_failed',
        error: 'Bad Request',
        message: 'body/name: must NOT have fewer than 1 characters',
        errors: [
          {
            path: 'body/name',
            code: 'min_length',
            message: 'must NOT have fewer than 1 characters',
          },
        ],
      },
    ],
  },
)

export const errorDescriptions: Record<number, string> = {
  400: 'The request is malformed; `message` names the field and why.',
  401: 'Missing or invalid credentials.',
  403: 'Not allowed.',
  404: 'No such resource in this workspace.',
  409: 'The request conflicts with the resource’s current state.',
  413: 'The body is larger than the limit.',
  415: 'Unsupported content type (the API takes `application/json`).',
  405: 'The method is not accepted here; see `Allow`.',
  408: 'The body did not arrive in time.',
  429: 'Too many requests; retry after `Retry-After` seconds.',
  500: 'Internal error (masked; the log has the detail under the request id).',
  502: 'An upstream service (the CRM) failed.',
  503: 'Not ready, or shutting down; retry shortly.',
}

/** Response entries for the error statuses a route can answer. */
export function errorResponses(...statuses: number[]) {
  const out: Record<number, ReturnType<typeof ref<typeof ErrorResponse>>> = {}
  for (const status of statuses) {
    out[status] = Type.Unsafe<Static<typeof ErrorResponse>>(
      Type.Ref(ERROR_SCHEMA, { description: errorDescriptions[status] ?? 'Error.' }),
    )
  }
  return out
}

export const Timestamp = Type.String({
  format: 'date-time',
  description: 'ISO 8601, UTC.',
  examples: ['2026-11-24T09:30:00.000Z'],
})

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const PageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'Page size.' }),
    cursor: Type.Optional(
      Type.String({
        maxLength: 512,
        description: 'The `next_cursor` of the previous page; omit for the first page.',
      }),
    ),
  },
  { additionalProperties: false },
)

/** `{ data, next_cursor }`: every list answers this shape. `next_cursor` is null on the last page. */
export function page<T extends TSchema>(item: T, $id: string) {
  return Type.Object(
    {
      data: Type.Array(item),
      next_cursor: Type.Union([Type.String(), Type.Null()], {
        description: 'Pass as `cursor` for the next page; null when this is the last page.',
      }),
    },
    { $id, additionalProperties: false },
  )
}

export const IdParam = (name: string, prefix: string) =>
  Type.String({
    minLength: 1,
    maxLength: 64,
    pattern: '^[a-z]+_[0-9a-z]+$',
    description: `The ${name} id.`,
    examples: [`${prefix}_01jdgk2x7m3q9v8h6c4r2t5w1y`],
  })

/**
 * An object schema as an RFC 7396 merge patch of it, for the documentation of
 * `application/merge-patch+json` bodies: every member optional, `null` removes
 * one (it then takes its default), no defaults filled in.
 */
export function mergePatchOf(schema: TObject, description?: string) {
  const properties = Object.fromEntries(
    Object.entries(schema.properties).map(([name, property]) => {
      const { default: _default, ...rest } = property as Record<string, unknown>
      const anyOf = rest.anyOf as { type?: unknown }[] | undefined
      const nullable = anyOf?.some((branch) => branch.type === 'null') ?? false
      const member = Type.Unsafe(rest)
      return [name, Type.Optional(nullable ? member : Type.Union([member, Type.Null()]))]
    }),
  )
  return Type.Object(properties, {
    additionalProperties: false,
    ...(description ? { description } : {}),
  })
}
