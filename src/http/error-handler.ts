import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance } from 'fastify'
import { errors, HooklineError } from '../errors.js'
import {
  describeValidation,
  listProblems,
  type Problem,
  pickIssue,
  problemsOf,
  type ValidationIssue,
} from './validation-problems.js'

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
 * One place turns every error into `{ statusCode, code, error, message }`,
 * plus `errors` (every problem) when validation failed. 5xx messages are
 * masked: the log has the detail, keyed by request id.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | HooklineError, request, reply) => {
    let statusCode: number
    let code: string
    let message: string
    let problems: Problem[] | undefined
    if (error instanceof HooklineError) {
      ;({ statusCode, code, message } = error)
      if (error.problems) problems = problemsOf(error.problems)
    } else if ('validation' in error && error.validation) {
      statusCode = 400
      code = 'validation_failed'
      const issues = error.validation as ValidationIssue[]
      const context = error.validationContext ?? 'request'
      const issue = pickIssue(issues)
      message = issue ? describeValidation(context, issue) : error.message
      problems = listProblems(context, issues)
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
    const statusText = STATUS_CODES[statusCode] ?? 'Error'
    return reply
      .code(statusCode)
      .send({ statusCode, code, error: statusText, message, ...(problems && { errors: problems }) })
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
