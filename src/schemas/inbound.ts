import { Type } from 'typebox'

/**
 * What senders POST to `/in/<token>`, for the OpenAPI document only. The
 * route reads every body as raw bytes (signatures are over the bytes) and the
 * handler's `body_format` decides how to parse them, so none of this is a
 * Fastify body schema: nothing here validates or alters a request.
 */

// The handler example's parameters (src/schemas/handlers.ts): `email`, `full_name`.
const fields = { email: 'ada@example.com', full_name: 'Ada Lovelace' }

const JsonBody = Type.Object(
  {},
  {
    additionalProperties: true,
    description:
      'Any JSON object. Parameters are named by their path, e.g. `contact.phone` for ' +
      '`{"contact": {"phone": …}}`.',
    examples: [{ ...fields, contact: { phone: '+44 20 7946 0000' } }],
  },
)

const FormBody = Type.Object(
  {},
  {
    additionalProperties: Type.String(),
    description:
      'Form fields. Names like `contact[email]`, `contact.email` and `tags[]` make nested ' +
      'parameters.',
    examples: [fields],
  },
)

const MultipartBody = Type.Object(
  {},
  {
    additionalProperties: Type.String(),
    description:
      'Form fields, named as in a form-urlencoded body. File parts are counted and skipped.',
    examples: [fields],
  },
)

const XmlBody = Type.String({
  description:
    'An XML document in UTF-8. Elements and attributes become parameters by their path from ' +
    'the root (`lead.email`); a DOCTYPE or ENTITY declaration is refused.',
  examples: ['<lead><email>ada@example.com</email><full_name>Ada Lovelace</full_name></lead>'],
})

/** The request bodies of `POST /in/<token>` by content type, as @fastify/swagger reads `body.content`. */
export const InboundBodies = {
  content: {
    'application/json': { schema: JsonBody },
    'application/x-www-form-urlencoded': { schema: FormBody },
    'multipart/form-data': { schema: MultipartBody },
    'application/xml': { schema: XmlBody },
    'text/xml': { schema: XmlBody },
  },
}
