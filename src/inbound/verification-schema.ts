import { type Static, type TObject, Type } from 'typebox'

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

const SHAPES = [None, Hmac, Stripe, StandardWebhooks, Basic, SecretHeader, SecretQuery]

export const Verification = Type.Union(
  SHAPES as [
    typeof None,
    typeof Hmac,
    typeof Stripe,
    typeof StandardWebhooks,
    typeof Basic,
    typeof SecretHeader,
    typeof SecretQuery,
  ],
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

/** What a PATCH takes: the same, but with the same type the secret may be left out, to keep the stored one. */
export const VerificationUpdate = Type.Union(SHAPES.map(keepable), {
  $id: 'VerificationUpdate',
  description:
    'Sender verification, chosen by `type`. With the stored type, the secret (or password) may be left ' +
    'out: the stored one (and any old one still in its rotation overlap) is kept. A new type needs its secret.',
  examples: [{ type: 'hmac', header: 'X-Hub-Signature-256', algorithm: 'sha256', encoding: 'hex' }],
})
type Secretless<T> = T extends { type: 'basic' }
  ? Omit<T, 'password'> & { password?: string }
  : T extends { secret: string }
    ? Omit<T, 'secret'> & { secret?: string }
    : T
export type VerificationUpdate = Secretless<Verification>

/** A shape whose secret (or password) may be left out. */
function keepable(shape: TObject): TObject {
  const properties = { ...shape.properties }
  for (const key of ['secret', 'password'])
    if (properties[key]) properties[key] = Type.Optional(properties[key])
  const { description } = shape as { description?: string }
  return Type.Object(properties, {
    additionalProperties: false,
    ...(description ? { description } : {}),
  })
}

/** An old secret (or password) still accepted until `expires_at`, after a rotation. */
export interface PreviousSecret {
  secret: string
  expires_at: string
}

/** The verification as sealed to the handler row: the current config and the old secrets in their overlap. */
export type StoredVerification = Verification & { previous?: PreviousSecret[] }

/** The stored secret or password of a config, if its type has one. */
export function secretOf(config: Verification | VerificationUpdate): string | undefined {
  if (config.type === 'none') return undefined
  return config.type === 'basic' ? config.password : config.secret
}

/** The config with its secret (or password) set to `secret`. */
export function withSecret<T extends Verification | VerificationUpdate>(
  config: T,
  secret: string,
): T {
  if (config.type === 'none') return config
  return config.type === 'basic' ? { ...config, password: secret } : { ...config, secret }
}

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
