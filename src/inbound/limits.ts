/**
 * Caps on the shape of one inbound body. The route caps its size in bytes;
 * these keep a small body from costing a large amount of work or memory.
 */
export const MAX_PARAMETERS = 1000
export const MAX_DEPTH = 32
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

export type Parsed = { ok: true; params: Record<string, unknown> } | { ok: false; reason: string }

export const refuse = (reason: string): { ok: false; reason: string } => ({ ok: false, reason })
