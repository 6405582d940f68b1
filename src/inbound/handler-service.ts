import type { Db } from '../db/database.js'
import type { HandlerRow, HandlerUpdate, NewHandlerRow } from '../db/tables/handlers.js'
import { errors } from '../errors.js'
import { alias } from '../http/deprecation.js'
import { decodeCursor, toPage } from '../http/pagination.js'
import { newId } from '../ids.js'
import type { HandlerInput } from '../schemas/handler-bodies.js'
import {
  DEFAULT_BODY_LIMIT_BYTES,
  type HandlerProtection,
  type HandlerResponse,
} from '../schemas/handler-parts.js'
import type { HandlerListQuery } from '../schemas/handlers.js'
import type { SecretBox } from '../security/secret-box.js'
import { callIdBound } from './call-ids.js'
import { hashToken, newEndpointToken, tokenBinding } from './endpoint-token.js'
import type { HandlerCache } from './handler-cache.js'
import * as repo from './handler-repository.js'
import {
  openVerification,
  resolveVerification,
  rotateVerification,
  verificationColumns,
} from './handler-secrets.js'
import { handlerProblems } from './handler-validation.js'
import { type HandlerView, toCallCounts, toHandler } from './handler-view.js'
import { fullParameters } from './parameters.js'
import type { Verification } from './verification-schema.js'

export interface HandlerContext {
  db: Db
  box: SecretBox
  workspaceId: string
  publicBaseUrl: string
  /** Cleared on every change, so this process's endpoint sees it at once. */
  cache: HandlerCache
}

const DAY_MS = 86_400_000
const view = (ctx: HandlerContext, row: HandlerRow) => toHandler(row, ctx.box, ctx.publicBaseUrl)

export async function createHandler(
  ctx: HandlerContext,
  input: HandlerInput & { title: string },
): Promise<HandlerView> {
  const id = newId('hdl')
  const token = newEndpointToken()
  const response = fullResponse(input.response)
  const protection = fullProtection(input.protection)
  await check(ctx, { ...input, response })
  const row: NewHandlerRow = {
    id,
    workspace_id: ctx.workspaceId,
    title: input.title,
    description: input.description ?? '',
    active: enabledOf(input) ?? true,
    token_hash: hashToken(token),
    token_sealed: ctx.box.seal(token, tokenBinding(id)),
    token_rotated_at: null,
    methods: input.methods ?? ['POST'],
    body_format: input.body_format ?? 'auto',
    body_limit_bytes: input.body_limit_bytes ?? DEFAULT_BODY_LIMIT_BYTES,
    parameters: JSON.stringify(fullParameters(input.parameters ?? [])),
    mapping: JSON.stringify(input.mapping ?? []),
    entity_type: input.entity_type ?? null,
    conditions: input.conditions ? JSON.stringify(input.conditions) : null,
    protection_seconds: protection.period_seconds,
    protection_parameters: protection.parameters,
    ...verificationColumns(ctx.box, id, (input.verification ?? { type: 'none' }) as Verification),
    response: JSON.stringify(response),
    actions: JSON.stringify(input.actions ?? []),
    created_by: input.created_by ? JSON.stringify(input.created_by) : null,
  }
  const created = await repo.insertHandler(ctx.db, row)
  ctx.cache.clear()
  return view(ctx, created)
}

export async function getHandlerRow(ctx: HandlerContext, id: string): Promise<HandlerRow> {
  const row = await repo.findHandler(ctx.db, ctx.workspaceId, id)
  if (!row) throw errors.notFound('handler', id)
  return row
}

export async function getHandler(ctx: HandlerContext, id: string): Promise<HandlerView> {
  return view(ctx, await getHandlerRow(ctx, id))
}

/** Properties sent replace the stored ones whole; a verification is replaced with its secret. */
export async function updateHandler(
  ctx: HandlerContext,
  id: string,
  input: HandlerInput,
): Promise<HandlerView> {
  const response = input.response ? fullResponse(input.response) : undefined
  await check(ctx, { ...input, response })
  const patch: HandlerUpdate = {}
  if (input.title !== undefined) patch.title = input.title
  if (input.description !== undefined) patch.description = input.description
  const enabled = enabledOf(input)
  if (enabled !== undefined) patch.active = enabled
  if (input.methods !== undefined) patch.methods = input.methods
  if (input.body_format !== undefined) patch.body_format = input.body_format
  if (input.body_limit_bytes !== undefined) patch.body_limit_bytes = input.body_limit_bytes
  if (input.parameters !== undefined)
    patch.parameters = JSON.stringify(fullParameters(input.parameters))
  if (input.mapping !== undefined) patch.mapping = JSON.stringify(input.mapping)
  if (input.entity_type !== undefined) patch.entity_type = input.entity_type
  if (input.conditions !== undefined)
    patch.conditions = input.conditions ? JSON.stringify(input.conditions) : null
  if (input.protection !== undefined) {
    const protection = fullProtection(input.protection)
    patch.protection_seconds = protection.period_seconds
    patch.protection_parameters = protection.parameters
  }
  if (input.verification !== undefined) {
    const stored = openVerification(ctx.box, await getHandlerRow(ctx, id))
    Object.assign(
      patch,
      verificationColumns(ctx.box, id, resolveVerification(stored, input.verification)),
    )
  }
  if (response) patch.response = JSON.stringify(response)
  if (input.actions !== undefined) patch.actions = JSON.stringify(input.actions)
  if (input.created_by !== undefined)
    patch.created_by = input.created_by ? JSON.stringify(input.created_by) : null
  const row = await repo.updateHandler(ctx.db, ctx.workspaceId, id, patch)
  if (!row) throw errors.notFound('handler', id)
  ctx.cache.clear()
  return view(ctx, row)
}

export async function setHandlerActive(
  ctx: HandlerContext,
  id: string,
  active: boolean,
): Promise<HandlerView> {
  const row = await repo.updateHandler(ctx.db, ctx.workspaceId, id, { active })
  if (!row) throw errors.notFound('handler', id)
  ctx.cache.clear()
  return view(ctx, row)
}

/**
 * A new verification secret (or password); the current one stays accepted
 * for `overlapSeconds`, as outbound signing secrets do on rotation.
 */
export async function rotateHandlerSecret(
  ctx: HandlerContext,
  id: string,
  body: { secret: string; overlap_seconds?: number },
): Promise<HandlerView> {
  const stored = openVerification(ctx.box, await getHandlerRow(ctx, id))
  const rotated = rotateVerification(stored, body.secret, body.overlap_seconds ?? 86400)
  const row = await repo.updateHandler(
    ctx.db,
    ctx.workspaceId,
    id,
    verificationColumns(ctx.box, id, rotated),
  )
  if (!row) throw errors.notFound('handler', id)
  ctx.cache.clear()
  return view(ctx, row)
}

/** A new endpoint token; the old one answers 404 from now on (no overlap: the URL is the credential). */
export async function rotateHandlerToken(ctx: HandlerContext, id: string): Promise<HandlerView> {
  const token = newEndpointToken()
  const row = await repo.updateHandler(ctx.db, ctx.workspaceId, id, {
    token_hash: hashToken(token),
    token_sealed: ctx.box.seal(token, tokenBinding(id)),
    token_rotated_at: new Date(),
  })
  if (!row) throw errors.notFound('handler', id)
  ctx.cache.clear()
  return view(ctx, row)
}

/** Final: the handler's calls go with it. */
export async function deleteHandler(ctx: HandlerContext, id: string): Promise<void> {
  if (!(await repo.deleteHandler(ctx.db, ctx.workspaceId, id))) throw errors.notFound('handler', id)
  ctx.cache.clear()
}

/** Newest first, each with its calls in the window by outcome (default: the last 7 days). */
export async function listHandlers(ctx: HandlerContext, query: HandlerListQuery) {
  const { from, to } = window(
    alias(query.calls_since, query.calls_from, 'calls_since', 'calls_from'),
    alias(query.calls_until, query.calls_to, 'calls_until', 'calls_to'),
    query.calls_since ? 'calls_since' : 'calls_from',
  )
  const before = query.cursor ? String(decodeCursor(query.cursor, 1)[0]) : undefined
  const enabled = alias(query.enabled, query.active, 'enabled', 'active')
  const rows = await repo.listHandlers(ctx.db, ctx.workspaceId, {
    limit: query.limit + 1,
    ...(before ? { before } : {}),
    ...(query.q ? { q: query.q } : {}),
    ...(enabled !== undefined ? { active: enabled } : {}),
  })
  const page = toPage(rows, query.limit, (row) => [row.id])
  const counts = await repo.countCalls(
    ctx.db,
    page.rows.map((row) => row.id),
    callIdBound(from),
    callIdBound(new Date(to.getTime() + 1)),
  )
  return {
    data: page.rows.map((row) => ({
      ...view(ctx, row),
      calls: toCallCounts(counts.get(row.id), from, to),
    })),
    next_cursor: page.next_cursor,
  }
}

const enabledOf = (input: HandlerInput) =>
  alias(input.enabled, input.active, 'enabled', 'active', 'body')

/** A time window from optional ISO bounds: default the last 7 days. */

export function window(fromText: string | undefined, toText: string | undefined, name: string) {
  const to = toText ? new Date(toText) : new Date()
  const from = fromText ? new Date(fromText) : new Date(to.getTime() - 7 * DAY_MS)
  if (from.getTime() > to.getTime())
    throw errors.validation(`querystring/${name}: must not be after the end`)
  return { from, to }
}

async function check(ctx: HandlerContext, input: HandlerInput) {
  const problems = await handlerProblems(ctx.db, ctx.workspaceId, {
    ...(input.parameters ? { parameters: fullParameters(input.parameters) } : {}),
    ...(input.mapping ? { mapping: input.mapping } : {}),
    ...(input.conditions ? { conditions: input.conditions } : {}),
    ...(input.response ? { response: input.response as HandlerResponse } : {}),
    ...(input.actions ? { actions: input.actions } : {}),
  })
  if (problems.length > 0) throw errors.validation(problems)
}

function fullResponse(response: Partial<HandlerResponse> | undefined): HandlerResponse {
  return {
    status: response?.status ?? 200,
    content_type: response?.content_type ?? 'application/json',
    headers: response?.headers ?? [],
    body_template: response?.body_template ?? null,
  }
}

function fullProtection(protection: Partial<HandlerProtection> | undefined): HandlerProtection {
  return {
    period_seconds: protection?.period_seconds ?? 0,
    parameters: protection?.parameters ?? [],
  }
}
