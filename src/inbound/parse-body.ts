import {
  type BodyLimits,
  DEFAULT_BODY_LIMITS,
  type Parsed,
  type Refusal,
  refuse,
  showKey,
} from '../formats/body-limits.js'
import { parseXml } from '../formats/parse-xml.js'
import { isUtf8Charset, parseHeaderValue } from './content-type.js'
import { parseForm } from './parse-form.js'
import { parseJson } from './parse-json.js'
import { parseMultipart } from './parse-multipart.js'
import { decodeUtf8 } from './utf8.js'

export type BodyFormat = 'json' | 'form' | 'xml' | 'multipart'

export interface InboundBody {
  contentType?: string | undefined
  rawBody: Buffer
  /** The handler's configured format; 'auto' goes by Content-Type, then by the first byte. */
  format: BodyFormat | 'auto'
  /** The caps on its shape; the defaults when left out. */
  limits?: BodyLimits
  /** XML element paths the handler reads as lists (`lead.tags.tag`, from `lead.tags.tag[0]`). */
  xmlListPaths?: ReadonlySet<string>
}

export type ParseBodyResult =
  | {
      ok: true
      params: Record<string, unknown>
      /** The format actually parsed (what 'auto' resolved to). */
      format: BodyFormat
      /** File parts in a multipart body, skipped. */
      ignoredFiles: number
    }
  | Refusal

/**
 * The parameters of an inbound call's body. Never throws: a hostile body is a
 * `{ ok: false, reason }` the call log can show the sender.
 *
 * A configured format wins over the sender's Content-Type, because senders
 * mislabel (JSON as text/plain is common); the Content-Type still supplies
 * the multipart boundary and the charset, which must be UTF-8. An empty body
 * is no parameters, so a verification ping reaches the required-parameter
 * check and fails there with a useful reason, or passes.
 */
export function parseInboundBody(input: InboundBody): ParseBodyResult {
  try {
    return parse(input)
  } catch {
    return refuse('the body could not be parsed')
  }
}

function parse(input: InboundBody): ParseBodyResult {
  const { contentType, rawBody, format } = input
  const limits = input.limits ?? DEFAULT_BODY_LIMITS
  const header = parseHeaderValue(contentType ?? '')
  const resolved = format === 'auto' ? detectFormat(header.value, rawBody) : format
  if (isBlank(rawBody)) return { ok: true, params: {}, format: resolved, ignoredFiles: 0 }
  if (!isUtf8Charset(header.params.charset)) {
    return refuse(
      `content-type declares charset ${showKey(header.params.charset ?? '')}; send UTF-8`,
    )
  }
  if (resolved === 'multipart') {
    const boundary = header.params.boundary
    if (header.value !== 'multipart/form-data' || boundary === undefined) {
      return refuse('multipart body: content-type must be multipart/form-data with a boundary')
    }
    const parsed = parseMultipart(rawBody, boundary, limits)
    return parsed.ok ? { ...parsed, format: resolved } : parsed
  }
  const text = decodeUtf8(rawBody)
  if (text === null) return refuse('the body is not valid UTF-8')
  const parsed: Parsed =
    resolved === 'json'
      ? parseJson(text, limits)
      : resolved === 'xml'
        ? parseXml(text, limits, input.xmlListPaths)
        : parseForm(text, limits)
  return parsed.ok ? { ...parsed, format: resolved, ignoredFiles: 0 } : parsed
}

function detectFormat(type: string, body: Buffer): BodyFormat {
  if (type === 'application/json' || type.endsWith('+json')) return 'json'
  if (type === 'application/x-www-form-urlencoded') return 'form'
  if (type === 'multipart/form-data') return 'multipart'
  if (type === 'application/xml' || type === 'text/xml' || type.endsWith('+xml')) return 'xml'
  // No or an unhelpful type (text/plain, octet-stream): go by the first non-blank byte.
  const hasBom = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf
  const first = body.subarray(hasBom ? 3 : 0).find((byte) => !isBlankByte(byte))
  if (first === 0x7b || first === 0x5b) return 'json'
  if (first === 0x3c) return 'xml'
  return 'form'
}

const isBlankByte = (byte: number) =>
  byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d

const isBlank = (body: Buffer) => body.every(isBlankByte)
