import { evaluate } from '../conditions/evaluate.js'
import { type BodyLimits, DEFAULT_BODY_LIMITS, refusalStatus } from '../formats/body-limits.js'
import type { CallOutcome } from '../schemas/calls.js'
import { TemplateError } from '../templates/render.js'
import { dedupeKey } from './dedupe-key.js'
import type { LoadedHandler } from './loaded-handler.js'
import { applyMapping } from './mapping.js'
import { coerceParameters } from './parameters.js'
import { parseInboundBody } from './parse-body.js'
import type { ReceivedBody } from './read-body.js'
import { type Answer, answerFor, errorAnswer, type PendingAnswer } from './respond.js'
import { verifyInbound } from './verify.js'

/** One request to a handler, as received. */
export interface IncomingCall {
  id: string
  receivedAt: Date
  method: string
  headers: Record<string, string | string[] | undefined>
  query: Record<string, string | string[] | undefined>
  /** The raw query string (after `?`): a GET call's parameters. */
  rawQuery: string
  contentType: string | undefined
  body: ReceivedBody
  sourceAddress: string
}

export type FinalOutcome = Exclude<CallOutcome, 'received' | 'accepted' | 'duplicate'>

/**
 * What the pure steps make of a call. `final`: the outcome is known and only
 * needs recording. `forward` (POST): claim the keys, forward, answer.
 * `lookup` (GET): ask the CRM, then answer.
 */
export type Decision =
  | {
      step: 'final'
      outcome: FinalOutcome
      reason: string | null
      params: Record<string, unknown> | null
      record: Record<string, unknown> | null
      answer: Answer | PendingAnswer
    }
  | {
      step: 'forward'
      params: Record<string, unknown>
      record: Record<string, unknown>
      /** `r:<webhook-id>`: a Standard Webhooks message is forwarded once; its retries are duplicates. */
      replayKey: string | null
      /** `d:<sha256>` of the chosen parameters, when a protection period is set. */
      dedupeKey: string | null
      answer: Answer | PendingAnswer
    }
  | {
      step: 'lookup'
      params: Record<string, unknown>
      record: Record<string, unknown>
    }

const final = (
  outcome: FinalOutcome,
  reason: string | null,
  answer: Answer | PendingAnswer,
  params: Record<string, unknown> | null = null,
  record: Record<string, unknown> | null = null,
): Decision => ({ step: 'final', outcome, reason, params, record, answer })

// The sender learns only that verification failed; the call log says why.
export const REJECTED = errorAnswer(401, 'verification_failed', 'the call could not be verified')
// RFC 9110: a 401 names the scheme it wants; for Basic, so clients send credentials.
const BASIC_REJECTED = errorAnswer(401, 'verification_failed', 'the call could not be verified', {
  'www-authenticate': 'Basic realm="hookline", charset="UTF-8"',
})

/** An inactive handler's 503 says when to try again: senders that honour it keep the call. */
export const INACTIVE_RETRY_AFTER_SECONDS = 300

/**
 * Runs the steps that need neither the database nor the network, in the
 * order the product describes: active, body, method, verification, parsing,
 * coercion, conditions, mapping. Total: a bug in a step is an `error`
 * outcome, never an exception that would lose the call.
 */
export function decide(
  handler: LoadedHandler,
  call: IncomingCall,
  limits: BodyLimits = DEFAULT_BODY_LIMITS,
): Decision {
  try {
    return steps(handler, call, limits)
  } catch (err) {
    if (err instanceof TemplateError) return templateFailed(err)
    return final(
      'error',
      `internal error: ${(err as Error).message}`,
      errorAnswer(500, 'internal_error', 'internal error; the call was recorded'),
    )
  }
}

/** A response template that failed: the call is an error, answered 500 with the reason. */
export function templateFailed(err: TemplateError): Decision {
  const reason = `the handler's response template failed: ${err.message}`
  return final('error', reason, errorAnswer(500, 'response_failed', reason))
}

function steps(handler: LoadedHandler, call: IncomingCall, limits: BodyLimits): Decision {
  if (!handler.active) {
    return final(
      'inactive',
      'the handler is inactive',
      errorAnswer(503, 'handler_inactive', 'this endpoint is not accepting calls right now', {
        'retry-after': String(INACTIVE_RETRY_AFTER_SECONDS),
      }),
    )
  }
  if (!call.body.ok) {
    const { status, reason } = call.body
    const code =
      status === 413 ? 'payload_too_large' : status === 408 ? 'request_timeout' : 'invalid_body'
    return final('invalid', reason, errorAnswer(status, code, reason, { connection: 'close' }))
  }
  if (!handler.methods.has(call.method)) {
    const allowed = [...handler.methods].join(', ')
    return final(
      'invalid',
      `method ${call.method} is not accepted (${allowed} only)`,
      errorAnswer(405, 'method_not_allowed', `this endpoint accepts ${allowed}`, {
        allow: allowed,
      }),
    )
  }

  const verified = verifyInbound(handler.verification, {
    headers: call.headers,
    query: call.query,
    rawBody: call.body.raw,
    now: call.receivedAt,
  })
  if (!verified.ok) {
    const answer = handler.verification.type === 'basic' ? BASIC_REJECTED : REJECTED
    return final('rejected', verified.reason, answer)
  }
  const replayKey = verified.replayId ? `r:${verified.replayId}` : null

  const parsed =
    call.method === 'GET'
      ? parseInboundBody({
          rawBody: Buffer.from(queryWithout(call.rawQuery, handler.secretQuery)),
          format: 'form',
          limits,
        })
      : parseInboundBody({
          contentType: call.contentType,
          rawBody: call.body.raw,
          format: handler.bodyFormat,
          limits,
          xmlListPaths: handler.xmlListPaths,
        })
  if (!parsed.ok) {
    const reason =
      call.method === 'GET' ? parsed.reason.replace(/^form body/, 'query string') : parsed.reason
    return final('invalid', reason, errorAnswer(refusalStatus(parsed.code), parsed.code, reason))
  }

  const coerced = coerceParameters(handler.parameters, parsed.params)
  if (!coerced.ok) {
    return final(
      'invalid',
      coerced.reason,
      errorAnswer(400, 'invalid_parameters', coerced.reason),
      parsed.params,
    )
  }
  const params = coerced.values

  if (!evaluate(handler.conditions, { fields: params })) {
    return final(
      'filtered',
      'the conditions did not match',
      answerFor(handler.response, { params, callId: call.id, method: call.method }),
      params,
    )
  }
  const record = applyMapping(handler.mapping, params)
  if (call.method === 'GET') return { step: 'lookup', params, record }
  return {
    step: 'forward',
    params,
    record,
    replayKey,
    dedupeKey:
      handler.protectionSeconds > 0 ? `d:${dedupeKey(params, handler.protectionParameters)}` : null,
    answer: answerFor(handler.response, { params, callId: call.id, method: call.method }),
  }
}

/** A GET call's query as parameters, without the one that carries a `secret_query` secret. */
function queryWithout(rawQuery: string, secretParams: readonly string[]): string {
  if (secretParams.length === 0) return rawQuery
  const search = new URLSearchParams(rawQuery)
  for (const name of secretParams) search.delete(name)
  return search.toString()
}
