import type { RuleRow } from '../../db/tables/rules.js'
import { LruCache } from '../../lru-cache.js'
import { type OutboundRequest, USER_AGENT } from '../../net/http-sender.js'
import { isReservedRequestHeader } from '../../net/reserved-headers.js'
import type { RuleAuthInput } from '../../schemas/rule-parts.js'
import { LOOKS_LIKE_CREDENTIAL, REDACTED } from '../../security/credential-names.js'
import { redactQuery } from '../../security/redact-query.js'
import { signRequest } from '../../signing/signatures.js'
import {
  renderFormPairs,
  renderHeaderValue,
  renderJson,
  renderJsonPairs,
  renderText,
  renderTextPairs,
  renderUrl,
  renderXml,
  renderXmlPairs,
  renderXmlRecord,
  type TemplateData,
  TemplateError,
} from '../../templates/render.js'
import { currentBudget, overBudget, withinBudget } from '../../templates/render-budget.js'

/** One record as a delivery stores it (a batch stores a list of these). */
export interface DeliveryRecord {
  entity_type: string
  entity_id: string
  fields: Record<string, unknown>
  event: { id: string | null; type: string | null; occurred_at: string }
}

const contentTypes = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
  xml: 'application/xml',
  text: 'text/plain; charset=utf-8',
} as const

/** What templates see: the record's fields at the top, plus `record.*` and `event.*`. */
export function templateData(record: DeliveryRecord): TemplateData {
  return {
    ...record.fields,
    record: { entity_type: record.entity_type, entity_id: record.entity_id },
    event: record.event,
  }
}

/** The parts of a request, in the order they render; a render over budget names its part. */
export const REQUEST_PARTS = ['the URL template', 'the body template', 'a header template'] as const
export type RequestPart = 0 | 1 | 2

/**
 * Renders a rule for one record (or a batch) into the HTTP request to send,
 * unsigned. Escaping is per context (src/templates), so the body is always a
 * valid document whatever the field values hold. Every template it renders
 * draws on one render budget (render-budget.ts); `onPart` hears which part
 * is rendering (the render pool reads it when it stops a thread).
 */
/** A rule's request as a render thread renders it (templates/render-pool.ts): plain data in and out. */
export function renderRuleTask(
  input: {
    request: RuleRow['request']
    records: DeliveryRecord | DeliveryRecord[]
    credentials: RuleAuthInput
  },
  notePart: (part: number) => void,
): OutboundRequest {
  const request = renderRuleRequest(
    { request: input.request },
    input.records,
    input.credentials,
    notePart,
  )
  // A URL object does not cross threads; the caller parses the string.
  const { target: _, ...plain } = request
  return plain
}

export function renderRuleRequest(
  rule: Pick<RuleRow, 'request'>,
  records: DeliveryRecord | DeliveryRecord[],
  credentials: RuleAuthInput,
  onPart?: (part: RequestPart) => void,
): OutboundRequest {
  const budget = currentBudget()
  return withinBudget(budget, () => {
    let part: RequestPart = 0
    const at = (next: RequestPart) => {
      part = next
      onPart?.(next)
    }
    try {
      return renderParts(rule.request, records, credentials, at)
    } catch (err) {
      if (err instanceof TemplateError && err.code === 'template_budget') {
        throw overBudget(budget.ms, REQUEST_PARTS[part])
      }
      throw err
    }
  })
}

function renderParts(
  request: RuleRow['request'],
  records: DeliveryRecord | DeliveryRecord[],
  credentials: RuleAuthInput,
  at: (part: RequestPart) => void,
): OutboundRequest {
  const list = Array.isArray(records) ? records : [records]
  const first = list[0] as DeliveryRecord
  const data = templateData(first)
  at(0)
  const hasBody = request.method !== 'GET' && request.method !== 'DELETE'
  const rendered = renderUrl(request.url, data)
  // Parsed once per URL when nothing is added to it (no query pairs or record
  // parameters): most rules render the same URL for every record.
  const url =
    hasBody && !request.append_record_params ? parsedUrl(rendered) : { target: new URL(rendered) }
  const headers: Record<string, string> = { 'user-agent': USER_AGENT }
  let body = ''

  at(1)
  if (!hasBody) {
    // GET and DELETE carry key-value pairs in the query string, as the seeds' CRMs do.
    for (const pair of request.body_pairs ?? []) {
      url.target.searchParams.append(pair.key, renderText(pair.value, data))
    }
  } else {
    // The first record's data is already built; a single record needs no other.
    const bodies = list.map((r, i) => renderBody(request, i === 0 ? data : templateData(r)))
    body = Array.isArray(records) ? joinBatch(request.body_format, bodies) : (bodies[0] as string)
    headers['content-type'] = contentTypes[request.body_format]
  }
  if (request.append_record_params) appendRecordParams(url.target.searchParams, first)
  at(2)
  // Refused at save; a rule stored before that check still never sets them.
  const dropped: string[] = []
  for (const header of request.headers ?? []) {
    if (isReservedRequestHeader(header.name)) dropped.push(header.name)
    else headers[header.name.toLowerCase()] = renderHeaderValue(header.value, data)
  }
  for (const [name, value] of Object.entries(authHeaders(credentials))) {
    if (isReservedRequestHeader(name)) dropped.push(name)
    else headers[name] = value
  }
  const sent = {
    method: request.method,
    url: url.href ?? url.target.toString(),
    headers,
    body,
    target: url.target,
  }
  return dropped.length > 0 ? { ...sent, droppedHeaders: dropped } : sent
}

/**
 * The record's own parameters, LeadSquared-style, for a batch its first
 * record's. A name the rule already sends (in its URL or, for GET and DELETE,
 * as a pair) is the rule's to set: it is kept, never overwritten.
 */
function appendRecordParams(params: URLSearchParams, record: DeliveryRecord): void {
  const appended = {
    entityType: record.entity_type,
    entityId: record.entity_id,
    // Runs without an event (execute, mass posts) have no type: it is left out.
    eventType: record.event.type,
  }
  for (const [name, value] of Object.entries(appended)) {
    if (value !== null && !params.has(name)) params.append(name, value)
  }
}

/** Rendered URLs parsed, with their text as sent; never mutated (see `target`). */
const parsedUrls = new LruCache<string, { target: URL; href: string }>(1_000)

function parsedUrl(rendered: string): { target: URL; href?: string } {
  let parsed = parsedUrls.get(rendered)
  if (!parsed) {
    const target = new URL(rendered)
    parsed = { target, href: target.toString() }
    parsedUrls.set(rendered, parsed)
  }
  return parsed
}

function renderBody(request: RuleRow['request'], data: TemplateData): string {
  const pairs = request.body_pairs
  const template = request.body_template
  switch (request.body_format) {
    case 'json':
      if (pairs) return renderJsonPairs(pairs, data)
      if (template) return renderJson(template, data)
      return JSON.stringify(data)
    case 'form':
      if (pairs) return renderFormPairs(pairs, data)
      // A form template is `a={{x}}&b={{y}}`: values are percent-encoded like URL parts.
      return template ? renderUrl(template, data) : ''
    case 'xml':
      if (pairs) return renderXmlPairs(request.xml_root ?? 'record', pairs, data)
      // Like JSON: no template, the whole record.
      return template
        ? renderXml(template, data)
        : renderXmlRecord(request.xml_root ?? 'record', data)
    case 'text':
      if (pairs) return renderTextPairs(pairs, data)
      return template ? renderText(template, data) : ''
  }
}

/**
 * A batch as one document: a JSON array, an XML `<batch>` of the records'
 * documents, or a form whose keys are indexed by record
 * (`records[0][id]=B-1&records[1][id]=B-2`, as PHP, Rails and `qs` read
 * arrays of objects). Text cannot be batched (refused at save, and never
 * batched at intake); should one arrive, its records are one per line.
 */
function joinBatch(format: RuleRow['request']['body_format'], bodies: string[]): string {
  switch (format) {
    case 'json':
      return `[${bodies.join(',')}]`
    case 'xml':
      return `<batch>${bodies.map((b) => b.replace(/^<\?xml[^>]*\?>\s*/, '')).join('')}</batch>`
    case 'form': {
      const form = new URLSearchParams()
      for (const [i, body] of bodies.entries()) {
        for (const [key, value] of new URLSearchParams(body))
          form.append(`records[${i}][${key}]`, value)
      }
      return form.toString()
    }
    case 'text':
      return bodies.join('\n')
  }
}

export function authHeaders(credentials: RuleAuthInput): Record<string, string> {
  switch (credentials.type) {
    case 'basic':
      return {
        authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`,
      }
    case 'bearer':
      return { authorization: `Bearer ${credentials.token}` }
    case 'header':
      return { [credentials.name.toLowerCase()]: credentials.value }
    default:
      return {}
  }
}

/**
 * Adds Standard Webhooks and X-Hookline-Signature headers; the delivery id is
 * the webhook-id. What is signed is what carries the data: the body, or for
 * GET and DELETE, which have none, the request target as sent (path and
 * query, `/leads/L-1?email=a%40x.io`), which a receiver reads as `req.url`.
 */
export function signOutbound(
  request: OutboundRequest,
  deliveryId: string,
  secrets: string[],
  now = new Date(),
): OutboundRequest {
  const body = carriesBody(request.method)
    ? request.body
    : requestTarget(request.target ?? request.url)
  const signature = signRequest({ msgId: deliveryId, timestamp: now, body, secrets })
  return { ...request, headers: { ...request.headers, ...signature } }
}

const carriesBody = (method: string) => method !== 'GET' && method !== 'DELETE'

/** The path and query as the sender writes them on the request line (see http-sender.ts). */
export function requestTarget(url: string | URL): string {
  const parsed = typeof url === 'string' ? new URL(url) : url
  return `${parsed.pathname}${parsed.search}`
}

// Names that look like credentials are masked too: a user who typed an API
// key into a header or URL template instead of the rule's auth still does
// not find it in history. Signatures stay: they are ours, and a preview shows
// them so a receiver's check can be tried.

/** The request as history shows it: credentials masked, body cut at the limit. */
export function redactRequest(
  request: OutboundRequest,
  credentials: RuleAuthInput,
  bodyLimit: number,
) {
  const secretHeaders = new Set(['authorization', 'proxy-authorization', 'cookie'])
  if (credentials.type === 'header') secretHeaders.add(credentials.name.toLowerCase())
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = secretHeaders.has(name) || LOOKS_LIKE_CREDENTIAL.test(name) ? REDACTED : value
  }
  const truncated = Buffer.byteLength(request.body) > bodyLimit
  return {
    method: request.method,
    url: redactUrlQuery(request.url),
    headers,
    body: truncated
      ? Buffer.from(request.body).subarray(0, bodyLimit).toString('utf8')
      : request.body,
    body_truncated: truncated,
  }
}

/**
 * The URL with the values of query parameters that look secret masked;
 * everything else is kept byte for byte (no re-encoding).
 */
export function redactUrlQuery(url: string): string {
  return redactQuery(url, REDACTED)
}
