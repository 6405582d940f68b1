import type { NewInboundCallRow } from '../db/tables/inbound-calls.js'
import type { BodyLimits } from '../formats/body-limits.js'
import type { CallOutcome } from '../schemas/calls.js'
import { TemplateError } from '../templates/render.js'
import type { CallWriter } from './call-writer.js'
import { type Decision, decide, type IncomingCall, templateFailed } from './decide.js'
import { jsonb, jsonbText, safeText } from './json-safe.js'
import type { LoadedHandler } from './loaded-handler.js'
import { type LookupDeps, lookupRecord } from './lookup.js'
import { redactedHeadersJson, redactHeaders, redactQuery } from './redact.js'
import { type Answer, errorAnswer, renderAnswer } from './respond.js'

export interface ReceiveDeps {
  writer: CallWriter
  lookup: LookupDeps
  storedBodyBytes: number
  limits: BodyLimits
}

/** An outcome the call log ends with (`received` is the transient one). */
export type LoggedOutcome = Exclude<CallOutcome, 'received'>

export interface Received {
  /** The outcome committed to the call log; null when it could not be written (the call stays `received`). */
  outcome: LoggedOutcome | null
  answer: Answer
}

const INTERNAL = errorAnswer(500, 'internal_error', 'internal error; the call was recorded')
const MAX_REASON = 2000

/**
 * One call, end to end: the pure steps decide what can be decided without
 * side effects; the call is then committed to the call log before the
 * sender is answered, and before anything that touches the network (the
 * CRM lookup). A call whose outcome is already known is written once, with
 * it. A POST call to forward is written once too, with its outcome, in the
 * transaction that claims its keys and queues its deliveries; if that
 * transaction fails, the call is written with the error instead. What it
 * answers names the outcome as committed, so the caller can count what the
 * call log holds.
 */
export async function receiveCall(
  deps: ReceiveDeps,
  handler: LoadedHandler,
  call: IncomingCall,
): Promise<Received> {
  const decision = await rendered(handler, decide(handler, call, deps.limits))
  const row = callRow(deps, handler, call, decision)
  if (decision.step === 'forward') return forward(deps, handler, call, decision, row)
  const stored = await deps.writer.record(row)
  if (decision.step === 'final')
    return { outcome: stored === 'received' ? null : stored, answer: decision.answer }
  // A lookup claims no webhook-id: a read is safe to answer again, and a
  // sender retrying one is answered again.
  return lookup(deps, handler, call, decision)
}

/**
 * The decision with its answer rendered, when that was left to a render
 * thread (respond.ts): before anything is recorded or forwarded, so a
 * template that fails makes the call an error, as one that fails at once does.
 */
async function rendered(handler: LoadedHandler, decision: Decision): Promise<Ready> {
  if (decision.step === 'lookup' || decision.answer.kind !== 'pending') return decision as Ready
  const { response, data } = decision.answer
  try {
    return { ...decision, answer: await renderAnswer(response, data, handler.workspaceId) }
  } catch (err) {
    if (err instanceof TemplateError) return templateFailed(err) as Ready
    throw err
  }
}

/** A decision whose answer is rendered. */
type Ready = WithAnswer<Decision>
type WithAnswer<D> = D extends { answer: unknown } ? Omit<D, 'answer'> & { answer: Answer } : D

async function forward(
  deps: ReceiveDeps,
  handler: LoadedHandler,
  call: IncomingCall,
  decision: Extract<Ready, { step: 'forward' }>,
  row: NewInboundCallRow,
): Promise<Received> {
  const settled = await deps.writer.settle({
    ...settleItem(handler, call, decision.replayKey),
    dedupeKey: decision.dedupeKey,
    forward: { call: row, record: decision.record },
    responseStatus: decision.answer.status,
  })
  if (settled instanceof Error) {
    const stored = await deps.writer.record({
      ...row,
      outcome: 'error',
      reason: safeText(`internal error: ${settled.message}`).slice(0, MAX_REASON),
      response_status: INTERNAL.status,
      finished_at: new Date(),
    })
    return { outcome: stored === 'received' ? null : stored, answer: INTERNAL }
  }
  return {
    outcome: settled.outcome === 'duplicate' ? 'duplicate' : 'accepted',
    answer: decision.answer,
  }
}

const settleItem = (handler: LoadedHandler, call: IncomingCall, replayKey: string | null) => ({
  callId: call.id,
  handler,
  receivedAt: call.receivedAt,
  replayKey,
  replayTtlSeconds: replayTtl(handler),
})

async function lookup(
  deps: ReceiveDeps,
  handler: LoadedHandler,
  call: IncomingCall,
  decision: Extract<Ready, { step: 'lookup' }>,
): Promise<Received> {
  const found = await lookupRecord(deps.lookup, {
    workspaceId: handler.workspaceId,
    handlerId: handler.id,
    callId: call.id,
    entityType: handler.entityType,
    params: decision.params,
    record: decision.record,
  }).catch((err: Error): { ok: false; reason: string } => ({
    ok: false,
    reason: `internal error: ${err.message}`,
  }))
  if (!found.ok) {
    return fail(
      deps,
      call.id,
      found.reason,
      errorAnswer(502, 'lookup_failed', 'the CRM lookup failed; the call was recorded'),
    )
  }
  let answer: Answer
  try {
    answer = await renderAnswer(
      handler.response,
      { params: decision.params, record: found.record, callId: call.id, method: call.method },
      handler.workspaceId,
    )
  } catch (err) {
    const reason =
      err instanceof TemplateError
        ? `the handler's response template failed: ${err.message}`
        : `internal error: ${(err as Error).message}`
    return fail(deps, call.id, reason, errorAnswer(500, 'response_failed', reason))
  }
  const written = await deps.writer.finish({
    ...finish(call.id, 'accepted', null, answer.status),
    lookup: jsonb(found.record),
  })
  return { outcome: written ? 'accepted' : null, answer }
}

async function fail(
  deps: ReceiveDeps,
  callId: string,
  reason: string,
  answer: Answer,
): Promise<Received> {
  const written = await deps.writer.finish(finish(callId, 'error', reason, answer.status))
  return { outcome: written ? 'error' : null, answer }
}

const finish = (
  id: string,
  outcome: CallOutcome,
  reason: string | null,
  responseStatus: number,
) => ({
  id,
  outcome,
  reason: reason === null ? null : safeText(reason).slice(0, MAX_REASON),
  lookup: null,
  noticeDeliveryId: null,
  actions: null,
  responseStatus,
})

/** Replay ids are kept for as long as a signed timestamp stays acceptable, both ways, and a margin. */
function replayTtl(handler: LoadedHandler): number {
  const tolerance =
    handler.verification.type === 'standard_webhooks'
      ? (handler.verification.toleranceSeconds ?? 300)
      : 300
  return tolerance * 2 + 60
}

/** The call as the log keeps it: secrets masked, the body's start, what the pure steps found. */
function callRow(
  deps: ReceiveDeps,
  handler: LoadedHandler,
  call: IncomingCall,
  decision: Decision,
): NewInboundCallRow {
  const { raw } = call.body
  const finalOutcome = decision.step === 'final'
  return {
    id: call.id,
    workspace_id: handler.workspaceId,
    handler_id: handler.id,
    method: safeText(call.method).slice(0, 20),
    headers: jsonbText(redactedHeadersJson(call.headers, handler.secretHeaders), () =>
      redactHeaders(call.headers, handler.secretHeaders),
    ),
    query: isEmpty(call.query)
      ? '{}'
      : (jsonb(redactQuery(call.query, handler.secretQuery)) as string),
    content_type: call.contentType === undefined ? null : safeText(call.contentType).slice(0, 500),
    body: raw.length === 0 ? null : raw.subarray(0, deps.storedBodyBytes),
    body_size: call.body.ok ? raw.length : call.body.size,
    source_address: call.sourceAddress,
    received_at: call.receivedAt,
    outcome: finalOutcome ? decision.outcome : 'received',
    reason:
      finalOutcome && decision.reason !== null
        ? safeText(decision.reason).slice(0, MAX_REASON)
        : null,
    params: jsonb(decision.params),
    record: jsonb(decision.record),
    lookup: null,
    notice_delivery_id: null,
    actions: null,
    response_status: finalOutcome ? decision.answer.status : null,
    finished_at: finalOutcome ? new Date() : null,
  }
}

function isEmpty(query: Record<string, unknown>): boolean {
  for (const _ in query) return false
  return true
}
