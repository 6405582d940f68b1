import { readField } from '../../fields/field-path.js'
import { parseXml } from '../../inbound/parse-xml.js'

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
