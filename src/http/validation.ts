import { Ajv, type Options } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifySchemaCompiler, FastifyServerOptions } from 'fastify'

type ValidatorFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>['buildValidator']

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

type ExternalSchemas = Record<string, unknown>

/**
 * Two validators, because the API's promise differs by part of the request:
 * a JSON body is taken exactly as sent (no type coercion, unknown properties
 * rejected rather than stripped), while params and query strings arrive as
 * text and must be coerced to the declared numbers and booleans.
 */
export const buildValidatorCompiler = ((
  externalSchemas: ExternalSchemas,
): FastifySchemaCompiler<unknown> => {
  const common: Options = {
    // Every problem, so the error body can list them all (and a union's
    // message can come from the branch meant: see pickIssue).
    allErrors: true,
    useDefaults: true,
    removeAdditional: false,
    // TypeBox 1.x tags schemas with `~kind`; strict mode would reject it.
    strict: false,
  }
  const body = addFormats(new Ajv({ ...common, coerceTypes: false }))
  const text = addFormats(new Ajv({ ...common, coerceTypes: 'array' }))
  for (const schema of Object.values(externalSchemas)) {
    body.addSchema(schema as object)
    text.addSchema(schema as object)
  }
  return ({ schema, httpPart }) =>
    (httpPart === 'body' ? body : text).compile(schema as object) as ReturnType<
      FastifySchemaCompiler<unknown>
    >
}) as unknown as ValidatorFactory
