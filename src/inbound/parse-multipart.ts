import {
  type BodyLimits,
  DEFAULT_BODY_LIMITS,
  MAX_MULTIPART_FILES,
  type Refusal,
  refuse,
  showKey,
} from '../formats/body-limits.js'
import { isUtf8Charset, parseHeaderValue } from './content-type.js'
import { buildParamTree } from './param-tree.js'
import { decodeUtf8 } from './utf8.js'

/**
 * multipart/form-data (RFC 7578), text fields only: file parts are counted and
 * skipped, since a webhook handler maps fields, not uploads. A small strict
 * parser over the Buffer: CRLF line ends, a closing delimiter, one
 * Content-Disposition per part. Anything else is refused, not guessed at.
 */

export type MultipartParsed =
  | { ok: true; params: Record<string, unknown>; ignoredFiles: number }
  | Refusal

const MAX_PART_HEADER_BYTES = 8 * 1024
const CRLF = Buffer.from('\r\n')
const HEADER_END = Buffer.from('\r\n\r\n')
const label = 'multipart body'

/** Boundaries per RFC 2046: 1–70 of a small set of characters, not ending in a space. */
export const isValidBoundary = (boundary: string) =>
  /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/.test(boundary)

export function parseMultipart(
  body: Buffer,
  boundary: string,
  limits: BodyLimits = DEFAULT_BODY_LIMITS,
): MultipartParsed {
  const cap = Math.min(limits.maxParameters, limits.maxValues)
  if (!isValidBoundary(boundary))
    return refuse(`${label}: the boundary in content-type is not valid`)
  const delimiter = Buffer.from(`--${boundary}`)
  const nextDelimiter = Buffer.from(`\r\n--${boundary}`)
  // The first delimiter opens the body or follows a preamble line.
  let at = 0
  if (!startsWith(body, delimiter, 0)) {
    const preambleEnd = body.indexOf(nextDelimiter)
    if (preambleEnd < 0) return refuse(`${label}: the boundary does not occur in the body`)
    at = preambleEnd + 2
  }

  const fields: [string, string][] = []
  let files = 0
  for (let part = 1; ; part++) {
    at += delimiter.length
    if (body[at] === 0x2d && body[at + 1] === 0x2d) break
    while (body[at] === 0x20 || body[at] === 0x09) at++
    if (!startsWith(body, CRLF, at))
      return refuse(`${label}: part ${part} boundary line is malformed`)
    at += 2

    let headerEnd: number
    let contentStart: number
    if (startsWith(body, CRLF, at)) {
      headerEnd = at
      contentStart = at + 2
    } else {
      headerEnd = body.indexOf(HEADER_END, at)
      if (headerEnd < 0 || headerEnd - at > MAX_PART_HEADER_BYTES) {
        return refuse(`${label}: part ${part} headers are malformed or too long`)
      }
      contentStart = headerEnd + 4
    }
    const contentEnd = body.indexOf(nextDelimiter, contentStart)
    if (contentEnd < 0) return refuse(`${label}: missing closing boundary`)

    const headers = readPartHeaders(body.subarray(at, headerEnd))
    if (typeof headers === 'string') return refuse(`${label}: part ${part} ${headers}`)
    if (headers.isFile) {
      if (++files > MAX_MULTIPART_FILES)
        return refuse(`${label}: more than ${MAX_MULTIPART_FILES} file parts`)
    } else {
      if (fields.length === cap)
        return refuse(`${label}: more than ${cap} fields`, 'too_many_values')
      const value = decodeUtf8(body.subarray(contentStart, contentEnd))
      if (value === null)
        return refuse(`${label}: field ${showKey(headers.name)} is not valid UTF-8`)
      fields.push([headers.name, value])
    }
    at = contentEnd + 2
  }
  const tree = buildParamTree(fields, label, limits.maxDepth)
  return tree.ok ? { ...tree, ignoredFiles: files } : tree
}

const startsWith = (body: Buffer, prefix: Buffer, at: number) =>
  body.subarray(at, at + prefix.length).equals(prefix)

function readPartHeaders(bytes: Buffer): { name: string; isFile: boolean } | string {
  const text = decodeUtf8(bytes)
  if (text === null) return 'headers are not valid UTF-8'
  let disposition: string | undefined
  for (const line of text === '' ? [] : text.split('\r\n')) {
    const colon = line.indexOf(':')
    // Folded (obsolete) and nameless lines alike have no place in form data.
    if (colon <= 0 || /^\s/.test(line)) return 'has a malformed header line'
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (name === 'content-disposition') {
      if (disposition !== undefined) return 'has two Content-Disposition headers'
      disposition = value
    } else if (name === 'content-type') {
      const charset = parseHeaderValue(value).params.charset
      if (!isUtf8Charset(charset)) return `declares charset ${showKey(charset ?? '')}; send UTF-8`
    }
  }
  if (disposition === undefined) return 'has no Content-Disposition header'
  const parsed = parseHeaderValue(disposition)
  if (parsed.value !== 'form-data') return 'is not form-data'
  const name = parsed.params.name
  if (name === undefined || name === '') return 'has no field name'
  return { name, isFile: 'filename' in parsed.params || 'filename*' in parsed.params }
}
