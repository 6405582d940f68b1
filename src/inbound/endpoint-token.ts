import { createHash } from 'node:crypto'
import { randomToken } from '../ids.js'

/**
 * A handler's public endpoint is `/in/<token>`: `hli_` and 24 random bytes
 * (192 bits) in base64url. The prefix lets secret scanners spot leaked URLs;
 * the fixed shape lets the route answer garbage with a 404 before any lookup.
 */
export const TOKEN_PATTERN = /^hli_[A-Za-z0-9_-]{32}$/

export const newEndpointToken = () => `hli_${randomToken(24)}`

/** What the database keeps and looks tokens up by. */
export const hashToken = (token: string) => createHash('sha256').update(token).digest()

export const endpointUrl = (publicBaseUrl: string, token: string) =>
  `${publicBaseUrl.replace(/\/+$/, '')}/in/${token}`

/** The row binding of a handler's sealed token (see SecretBox). */
export const tokenBinding = (handlerId: string) => `handlers:${handlerId}:token`
export const verificationBinding = (handlerId: string) => `handlers:${handlerId}:verification`
