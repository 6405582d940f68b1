import type { IncomingMessage } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { BODY_OPTIONAL } from '../http/body-optional.js'
import { newCallId } from '../inbound/call-ids.js'
import { TOKEN_PATTERN } from '../inbound/endpoint-token.js'
import type { LoadedHandler } from '../inbound/loaded-handler.js'
import { type ReceivedBody, readBody } from '../inbound/read-body.js'
import { receiveCall } from '../inbound/receive.js'
import type { Answer } from '../inbound/respond.js'
import { errorResponses } from '../schemas/common.js'
import { InboundBodies } from '../schemas/inbound.js'
import type { RouteDeps } from './deps.js'
import { gateAdmission } from './inbound-gate.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on /in/:token once the token is known; the body parser reads with its limit. */
    inboundHandler: LoadedHandler | null
    inboundReceivedAt: Date | null
  }
}

const tags = ['inbound']
type Token = { Params: { token: string } }

// Every content type a sender may use; the handler's body format decides how
// the bytes are read (senders mislabel), so one reader serves them all.
const CONTENT_TYPES = [
  'application/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'application/xml',
  'text/xml',
  'text/plain',
]

// Both methods' descriptions end with this.
const COMMON =
  'Every call to a known token is recorded before it is answered. Accepted, duplicate and filtered ' +
  'calls get the handler’s configured response (a 2xx, so senders do not retry). Errors: 400 ' +
  '`invalid_body` / `invalid_parameters` (the message names the parameter), 400 `too_deep` (nested past ' +
  '`INBOUND_MAX_DEPTH`), 400 `invalid_text` (U+0000 or a lone surrogate in a value), 401 `verification_failed`, ' +
  '404 for an unknown or rotated-out token, 405 `method_not_allowed` with `Allow` (also for PUT, ' +
  'PATCH, DELETE, HEAD and OPTIONS, which are recorded too), 408 `request_timeout` (body too ' +
  'slow), 413 `payload_too_large` (the handler’s `body_limit_bytes`), 413 `too_many_values` (more ' +
  'values or parameters than `INBOUND_MAX_VALUES` / `INBOUND_MAX_PARAMETERS`), 429 `rate_limited` with ' +
  '`Retry-After`, 502 `lookup_failed` (GET: the CRM lookup failed or timed out), 503 ' +
  '`handler_inactive` with `Retry-After`. A Basic-auth handler’s 401 carries `WWW-Authenticate`. Answers to a recorded call carry `X-Hookline-Call-Id`.'

const endpointSchema = {
  tags,
  security: [],
  params: Type.Object({
    token: Type.String({ maxLength: 200, description: 'The endpoint token.' }),
  }),
  response: {
    200: {
      description:
        'The handler’s configured response (content type, headers, body), with its configured ' +
        'status: 200 unless the handler’s `response.status` names another 2xx.',
      content: { '*/*': { schema: Type.Unknown() } },
    },
    ...errorResponses(400, 401, 404, 405, 408, 413, 429, 500, 502, 503),
  },
}

/** Answered 405 with `Allow` (the handler's methods) and recorded as `invalid`. */
export const OTHER_METHODS = ['PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']

const NOT_FOUND = {
  statusCode: 404,
  code: 'not_found',
  error: 'Not Found',
  message: 'no such endpoint',
}

/**
 * The public endpoint `GET|POST /in/<token>`: no API key, the token is the
 * credential. Before the body is read: the token's shape, the source
 * address's rate, the handler (unknown and rotated-out tokens get one
 * uniform 404), the token's rate; on a socket, what can be refused without a
 * lookup is refused before Fastify sees the request (inbound-gate.ts). Then the body is read with the handler's
 * own size limit and deadline, and the call goes through `receiveCall`.
 */
export const inboundRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { config, inbound, metrics },
) => {
  app.decorateRequest('inboundHandler', null)
  app.decorateRequest('inboundReceivedAt', null)
  app.removeAllContentTypeParsers()
  const parser = (request: FastifyRequest, payload: IncomingMessage): Promise<ReceivedBody> => {
    const length = request.headers['content-length']
    return readBody(payload, {
      limit: request.inboundHandler?.bodyLimit ?? 0,
      timeoutMs: config.inboundBodyTimeoutMs,
      contentLength: length === undefined ? undefined : Number(length),
    })
  }
  for (const type of CONTENT_TYPES) app.addContentTypeParser(type, parser)
  app.addContentTypeParser(/^[\w.+-]+\/[\w.+-]+\+(?:json|xml)$/, parser)
  // Anything else, or no Content-Type at all: the handler's format still applies.
  app.addContentTypeParser('*', parser)

  const admit = async (request: FastifyRequest<Token>, reply: FastifyReply) => {
    request.inboundReceivedAt = new Date()
    // The gate (inbound-gate.ts) made the first checks already, or all of them.
    const admitted = gateAdmission(request.raw)
    if (admitted?.handler) {
      request.inboundHandler = admitted.handler
      return
    }
    const { token } = request.params
    if (!admitted) {
      if (!TOKEN_PATTERN.test(token)) return reply.code(404).send(NOT_FOUND)
      const addressWait = inbound.addressLimiter.take(request.ip)
      if (addressWait > 0) return tooMany(reply, addressWait)
    }
    // A token not in the cache costs a database lookup: an address whose
    // recent lookups kept finding nothing waits before it may make more.
    // Each lookup is counted as it starts (so concurrent ones cannot all
    // slip through) and given back when it finds a handler.
    const ip = request.ip
    let counted = false
    const handler = await inbound.cache.find(token, () => {
      counted = inbound.missLimiter.take(ip) === 0
      return counted
    })
    if (handler === undefined) return tooMany(reply, inbound.missLimiter.wait(ip))
    if (handler === null) return reply.code(404).send(NOT_FOUND)
    if (counted) inbound.missLimiter.refund(ip)
    const tokenWait = inbound.tokenLimiter.take(handler.id)
    if (tokenWait > 0) return tooMany(reply, tokenWait)
    request.inboundHandler = handler
  }

  const receive = async (request: FastifyRequest, reply: FastifyReply) => {
    const handler = request.inboundHandler as LoadedHandler
    const receivedAt = request.inboundReceivedAt ?? new Date()
    const body = (request.body as ReceivedBody | undefined) ?? { ok: true, raw: Buffer.alloc(0) }
    const id = newCallId(receivedAt)
    const url = request.raw.url ?? ''
    const question = url.indexOf('?')
    const { outcome, answer } = await receiveCall(inbound.receive, handler, {
      id,
      receivedAt,
      method: request.method,
      headers: request.headers,
      query: request.query as Record<string, string | string[] | undefined>,
      rawQuery: question < 0 ? '' : url.slice(question + 1),
      contentType: request.headers['content-type'],
      body,
      sourceAddress: request.ip,
    })
    // Counted once the outcome is committed, as the call log holds it.
    if (outcome) metrics.inboundCalls.inc({ outcome })
    reply.header('x-hookline-call-id', id)
    return send(reply, answer)
  }

  // GET and POST apart only so the document gives POST its request bodies.
  const endpoint = {
    url: '/in/:token',
    exposeHeadRoute: false,
    // The handler's own limit applies (see the parser); this is the ceiling.
    bodyLimit: 10 * 1024 * 1024,
    onRequest: admit,
    handler: receive,
  }
  app.route<Token>({
    ...endpoint,
    method: 'GET',
    schema: {
      ...endpointSchema,
      summary: 'Look up a record (public endpoint)',
      description:
        'What a sender calls to read a record, at a handler’s `endpoint_url`; no API key. The ' +
        'parameters are in the query (`?email=ada%40example.com`); the mapped record goes to the ' +
        'workspace’s CRM lookup URL (signed, short timeout), and the handler’s response template ' +
        `renders what the CRM returns. ${COMMON}`,
    },
  })
  // Other methods reach the handler too, so a call to a known token is recorded
  // and answered 405 with `Allow` (decide.ts), never a 404 that echoes the URL.
  // HEAD is one of them: it carries no record and must not start a CRM lookup.
  app.route<Token>({
    ...endpoint,
    method: OTHER_METHODS,
    schema: { ...endpointSchema, hide: true },
  })
  app.route<Token>({
    ...endpoint,
    method: 'POST',
    schema: {
      ...endpointSchema,
      summary: 'Send a record (public endpoint)',
      description:
        'What a sender calls to deliver a record, at a handler’s `endpoint_url`; no API key. The body ' +
        'is JSON, form-urlencoded, XML or multipart fields, read as the handler’s `body_format` says ' +
        '(`auto`: by Content-Type, then by the first byte). An accepted call’s mapped record goes ' +
        'to the CRM callback as an `inbound.record` notice, and the handler’s fulfillment actions ' +
        `run. ${COMMON}`,
    },
    // Documentation only: a Fastify body schema would validate what the route
    // reads as raw bytes (signatures are over the bytes), so the bodies are
    // added to the document, not to the route. An empty body is accepted.
    config: {
      swaggerTransform: ({ schema, url }) => ({
        schema: { ...schema, body: InboundBodies, [BODY_OPTIONAL]: true },
        url,
      }),
    },
  })
}

function send(reply: FastifyReply, answer: Answer) {
  if (answer.headers) reply.headers(answer.headers)
  if (answer.kind === 'error') {
    const error = STATUS_CODES[answer.status] ?? 'Error'
    return reply
      .code(answer.status)
      .send({ statusCode: answer.status, code: answer.code, error, message: answer.message })
  }
  reply.code(answer.status).header('content-type', answer.contentType)
  return reply.send(answer.status === 204 ? undefined : answer.body)
}

function tooMany(reply: FastifyReply, seconds: number) {
  return reply
    .code(429)
    .header('retry-after', String(seconds))
    .send({
      statusCode: 429,
      code: 'rate_limited',
      error: 'Too Many Requests',
      message: `slow down; retry in ${seconds} s`,
    })
}
