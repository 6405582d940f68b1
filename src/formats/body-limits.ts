/**
 * Caps on the shape of one parsed body: an inbound call's, or a receiver's
 * answer that a rule maps back into the CRM. The route caps its size in bytes;
 * these keep a body within that size from costing a large amount of work or
 * memory: every parser counts as it goes and stops at the first one passed,
 * so a refused body costs no more than the part read before the cap.
 */
export interface BodyLimits {
  /** Nesting: JSON objects and arrays, XML elements, segments of a form field name. */
  maxDepth: number
  /** JSON keys and array items, XML elements and attributes, form and multipart fields. */
  maxValues: number
  /** Form fields, multipart fields, query-string parameters. */
  maxParameters: number
}

/** Far above what real senders send; INBOUND_MAX_* set them per deployment. */
export const DEFAULT_BODY_LIMITS: BodyLimits = Object.freeze({
  maxDepth: 32,
  maxValues: 20_000,
  maxParameters: 1000,
})

export const MAX_MULTIPART_FILES = 100
export const MAX_XML_CHARACTER_REFERENCES = 10_000

/**
 * Keys that would reach JavaScript internals if a later step ever assigned
 * them with `obj[key] = …`. Refused at the parser, so nothing downstream has
 * to remember.
 */
const DANGEROUS_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

export const isDangerousKey = (key: string) => DANGEROUS_KEYS.has(key)

/** A key quoted for a reason string, cut short: reasons land in the call log. */
export function showKey(key: string): string {
  return JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key)
}

/**
 * Why a body is refused, as the sender is told: `too_deep` (400),
 * `too_many_values` (413), `invalid_text` (400: text PostgreSQL cannot
 * store), `invalid_body` (400: anything else).
 */
export type RefusalCode = 'invalid_body' | 'too_deep' | 'too_many_values' | 'invalid_text'

export type Refusal = { ok: false; reason: string; code: RefusalCode }

export type Parsed = { ok: true; params: Record<string, unknown> } | Refusal

export const refuse = (reason: string, code: RefusalCode = 'invalid_body'): Refusal => ({
  ok: false,
  reason,
  code,
})

export const refusalStatus = (code: RefusalCode) => (code === 'too_many_values' ? 413 : 400)
