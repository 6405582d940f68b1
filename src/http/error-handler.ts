import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance } from 'fastify'
import { errors, HooklineError } from '../errors.js'

interface ValidationIssue {
  instancePath: string
  schemaPath?: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

/** `body/rules/0/url: must match format "uri"`: the field first, then why. */
export function describeValidation(context: string, issue: ValidationIssue): string {
  const path = `${context}${issue.instancePath}`
  switch (issue.keyword) {
    case 'additionalProperties':
      return `${path}/${issue.params.additionalProperty}: unknown property (not allowed here)`
    case 'required':
      return `${path}/${issue.params.missingProperty}: required property is missing`
    case 'enum':
      return `${path}: must be one of ${JSON.stringify(issue.params.allowedValues)}`
    default:
      return `${path}: ${issue.message ?? 'is invalid'}`
  }
}

/**
 * Bodies are validated with every error collected, so a union (`anyOf`)
 * reports each branch's complaints. The useful one comes from the branch the
 * caller meant: branches whose `type` constant did not match are dropped,
 * then the deepest path wins (it names the property at fault).
 */
export function pickIssue(issues: ValidationIssue[]): ValidationIssue | undefined {
  const rejected = issues
    .filter((i) => i.keyword === 'const' && i.instancePath.endsWith('/type'))
    .map((i) => ({
      branch: branchOf(i.schemaPath ?? ''),
      at: i.instancePath.slice(0, -'/type'.length),
    }))
    .filter((r) => r.branch !== undefined)
  const kept = issues.filter(
    (i) =>
      i.keyword !== 'anyOf' &&
      !rejected.some(
        (r) => (i.schemaPath ?? '').startsWith(`${r.branch}/`) && i.instancePath.startsWith(r.at),
      ),
  )
  const pool = kept.length > 0 ? kept : issues
  let best = pool[0]
  for (const issue of pool) if (best && depth(issue) > depth(best)) best = issue
  return best
}

function branchOf(schemaPath: string): string | undefined {
  const match = /^(.*\/anyOf\/\d+)\/properties\/type\/const$/.exec(schemaPath)
  return match?.[1]
}

const depth = (issue: ValidationIssue) => issue.instancePath.split('/').length

// Fastify's own client errors, renamed into our catalogue's codes.
const fastifyCodes: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INSTANCE_ALREADY_STARTED: 'internal_error',
}

/**
 * One place turns every error into `{ statusCode, code, error, message }`.
 * 5xx messages are masked: the log has the detail, keyed by request id.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | HooklineError, request, reply) => {
    let statusCode: number
    let code: string
    let message: string
    if (error instanceof HooklineError) {
      ;({ statusCode, code, message } = error)
    } else if ('validation' in error && error.validation) {
      statusCode = 400
      code = 'validation_failed'
      const issue = pickIssue(error.validation as ValidationIssue[])
      message = issue
        ? describeValidation(error.validationContext ?? 'request', issue)
        : error.message
    } else if (isUnstorableText(error)) {
      ;({ statusCode, code, message } = errors.invalidText())
    } else if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      statusCode = error.statusCode
      code =
        fastifyCodes[error.code] ?? (error instanceof SyntaxError ? 'invalid_json' : 'bad_request')
      message = error.message
    } else {
      ;({ statusCode, code, message } = errors.internal())
    }
    if (statusCode >= 500) request.log.error({ err: error }, 'request failed')
    else request.log.info({ code, message }, 'request rejected')
    return reply
      .code(statusCode)
      .send({ statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message })
  })

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    // An inbound endpoint's path is its credential: never echoed.
    const shown = path.startsWith('/in/') ? '/in/{token}' : path
    const { statusCode, code, message } = errors.routeNotFound(request.method, shown)
    return reply.code(statusCode).send({ statusCode, code, error: 'Not Found', message })
  })
}

/**
 * Postgres refuses U+0000 in text (22021) and in jsonb (22P05). Only a
 * caller's value can carry one (a query string, a field), so it is their 400.
 */
function isUnstorableText(error: unknown): boolean {
  const { code, severity } = error as { code?: unknown; severity?: unknown }
  return severity !== undefined && (code === '22021' || code === '22P05')
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before a
 * route sees it (lying framing, a header block or body that did not arrive
 * within the timeouts, oversized headers) gets the same error shape as
 * everything else, then the connection is closed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has no one left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const { statusCode, code, message } =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? errors.requestTimeout()
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? errors.headersTooLarge()
        : errors.malformedRequest()
  const error = STATUS_CODES[statusCode] ?? 'Error'
  const body = JSON.stringify({ statusCode, code, error, message })
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${statusCode} ${error}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(err)
}
