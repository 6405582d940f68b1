import { type Static, Type } from 'typebox'

/**
 * How a handler checks that a call comes from its sender. Secrets are
 * write-only: the API must never echo them back.
 */

const headerName = (extra: { default?: string } = {}) =>
  Type.String({
    minLength: 1,
    maxLength: 100,
    pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
    description: 'Header name; matched without regard to case.',
    ...extra,
  })
const secret = (description: string) =>
  Type.String({ minLength: 1, maxLength: 1024, writeOnly: true, description })
const tolerance = Type.Optional(
  Type.Integer({
    minimum: 1,
    maximum: 86_400,
    default: 300,
    description: 'How far the signed timestamp may be from now, either way, in seconds.',
  }),
)

const None = Type.Object({ type: Type.Literal('none') }, { additionalProperties: false })

const Hmac = Type.Object(
  {
    type: Type.Literal('hmac'),
    header: headerName(),
    algorithm: Type.Enum(['sha256', 'sha1', 'sha512']),
    encoding: Type.Enum(['hex', 'base64']),
    prefix: Type.Optional(
      Type.String({ maxLength: 50, description: 'Text before the signature, e.g. `sha256=`.' }),
    ),
    secret: secret('The shared HMAC key, used as UTF-8 bytes.'),
  },
  {
    additionalProperties: false,
    description:
      'HMAC of the raw body: GitHub (`X-Hub-Signature-256`, hex, `sha256=`), Shopify (`X-Shopify-Hmac-Sha256`, base64).',
  },
)

const Stripe = Type.Object(
  {
    type: Type.Literal('stripe'),
    header: Type.Optional(headerName({ default: 'stripe-signature' })),
    secret: secret('The endpoint signing secret (`whsec_…`), used as is.'),
    toleranceSeconds: tolerance,
  },
  { additionalProperties: false, description: '`t=…,v1=…`: HMAC-SHA256 of `t.body`.' },
)

const StandardWebhooks = Type.Object(
  {
    type: Type.Literal('standard_webhooks'),
    secret: Type.String({
      minLength: 1,
      maxLength: 1024,
      pattern: '^(?:whsec_)?[A-Za-z0-9+/]+={0,2}$',
      writeOnly: true,
      description: 'The base64 key, with or without its `whsec_` prefix.',
    }),
    toleranceSeconds: tolerance,
  },
  {
    additionalProperties: false,
    description:
      'Standard Webhooks (and Svix): `webhook-id`, `webhook-timestamp`, `webhook-signature`.',
  },
)

const Basic = Type.Object(
  {
    type: Type.Literal('basic'),
    username: Type.String({ minLength: 1, maxLength: 200, pattern: '^[^:]*$' }),
    password: secret('The password.'),
  },
  { additionalProperties: false },
)

const SecretHeader = Type.Object(
  {
    type: Type.Literal('secret_header'),
    header: headerName(),
    secret: secret('The exact header value.'),
  },
  { additionalProperties: false },
)

const SecretQuery = Type.Object(
  {
    type: Type.Literal('secret_query'),
    param: Type.String({ minLength: 1, maxLength: 100 }),
    secret: secret('The exact query parameter value.'),
  },
  { additionalProperties: false },
)

export const Verification = Type.Union(
  [None, Hmac, Stripe, StandardWebhooks, Basic, SecretHeader, SecretQuery],
  {
    $id: 'Verification',
    description: 'Sender verification, chosen by `type`.',
    examples: [
      {
        type: 'hmac',
        header: 'X-Hub-Signature-256',
        algorithm: 'sha256',
        encoding: 'hex',
        prefix: 'sha256=',
        secret: '…',
      },
    ],
  },
)
export type Verification = Static<typeof Verification>

/** Headers whose values carry the secret or a signature: masked in the call log. */
export function verificationHeaderNames(config: Verification): string[] {
  switch (config.type) {
    case 'hmac':
    case 'secret_header':
      return [config.header.toLowerCase()]
    case 'stripe':
      return [(config.header ?? 'stripe-signature').toLowerCase()]
    case 'standard_webhooks':
      return ['webhook-signature', 'svix-signature']
    case 'basic':
      return ['authorization']
    default:
      return []
  }
}

/** Query parameters that carry the secret: masked in the call log. */
export function verificationQueryParams(config: Verification): string[] {
  return config.type === 'secret_query' ? [config.param] : []
}
