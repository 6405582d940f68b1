import { readField } from '../../fields/field-path.js'
import { parseXml } from '../../formats/parse-xml.js'

export type ResponseFormat = 'json' | 'form' | 'xml' | 'text'

/** Reads a receiver's answer in the rule's expected format; undefined when it does not parse. */
export function parseResponseBody(format: ResponseFormat, body: string): unknown {
  switch (format) {
    case 'json':
      try {
        return JSON.parse(body)
      } catch {
        return undefined
      }
    case 'form': {
      const out: Record<string, string> = {}
      for (const [key, value] of new URLSearchParams(body)) {
        if (key !== '__proto__' && key !== 'constructor' && key !== 'prototype') out[key] = value
      }
      return out
    }
    case 'xml': {
      const parsed = parseXml(body)
      return parsed.ok ? parsed.params : undefined
    }
    case 'text':
      return { text: body }
  }
}

/**
 * Response mapping: each `path` read from the parsed response is stored under
 * its CRM `field`. Paths that are absent are left out, not set to null, so a
 * partial answer never blanks a CRM field.
 */
export function mapResponse(
  mapping: { path: string; field: string }[],
  parsed: unknown,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (parsed === undefined) return out
  for (const { path, field } of mapping) {
    const value = readField(parsed, path)
    if (value !== undefined) out[field] = value
  }
  return out
}

/** A mapped path the response did not have, and why. */
export interface Unmapped {
  path: string
  field: string
  reason: string
}

const FORMAT_NAMES = { json: 'JSON', form: 'form-urlencoded', xml: 'XML', text: 'text' } as const

/** What a body that did not parse as expected looks like, for the reason given. */
function looksLike(body: string): string {
  const start = body.trimStart()
  if (start === '') return 'it is empty'
  if (start.startsWith('<')) return 'it looks like XML or HTML'
  if (start.startsWith('{') || start.startsWith('[')) return 'it looks like JSON'
  return 'it looks like plain text'
}

/**
 * Response mapping with its misses: the fields found, and each path not
 * found with why: the body is not in the rule's format (and what it looks
 * like instead), or the path is absent from it.
 */
export function mapResponseBody(
  response: { format: ResponseFormat; mapping: { path: string; field: string }[] },
  body: string,
): { mapped: Record<string, unknown>; unmapped: Unmapped[] } {
  const parsed = body.trim() === '' ? undefined : parseResponseBody(response.format, body)
  const mapped = mapResponse(response.mapping, parsed)
  const reason =
    parsed === undefined
      ? body.trim() === ''
        ? 'the response body is empty'
        : `the response is not ${FORMAT_NAMES[response.format]} as the rule expects (${looksLike(body)})`
      : 'no value at this path in the response'
  const unmapped = response.mapping
    .filter(({ field }) => !Object.hasOwn(mapped, field))
    .map(({ path, field }) => ({ path, field, reason }))
  return { mapped, unmapped }
}
