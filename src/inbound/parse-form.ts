import {
  type BodyLimits,
  DEFAULT_BODY_LIMITS,
  type Parsed,
  refuse,
} from '../formats/body-limits.js'
import { buildParamTree } from './param-tree.js'

/**
 * application/x-www-form-urlencoded. Written out rather than URLSearchParams
 * because URLSearchParams turns bad percent-encoding into U+FFFD silently, and
 * a sender with a broken encoder should hear about it. It also stops counting
 * at the cap instead of splitting a million empty pairs first.
 */
export function parseForm(text: string, limits: BodyLimits = DEFAULT_BODY_LIMITS): Parsed {
  const cap = Math.min(limits.maxParameters, limits.maxValues)
  const pairs: [string, string][] = []
  let at = 0
  while (at <= text.length) {
    let end = text.indexOf('&', at)
    if (end < 0) end = text.length
    if (end > at) {
      if (pairs.length === cap) {
        return refuse(`form body: more than ${cap} parameters`, 'too_many_values')
      }
      const piece = text.slice(at, end)
      const equals = piece.indexOf('=')
      const name = decode(equals < 0 ? piece : piece.slice(0, equals))
      const value = equals < 0 ? '' : decode(piece.slice(equals + 1))
      if (name === null || value === null) {
        return refuse(`form body: parameter ${pairs.length + 1} is not valid percent-encoded UTF-8`)
      }
      pairs.push([name, value])
    }
    at = end + 1
  }
  return buildParamTree(pairs, 'form body', limits.maxDepth)
}

function decode(text: string): string | null {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '))
  } catch {
    return null
  }
}
