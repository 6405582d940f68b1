import { unknownCatalogNames } from '../../catalog/catalog-service.js'
import type { Db } from '../../db/database.js'
import type { RuleRow } from '../../db/tables/rules.js'
import { errors } from '../../errors.js'
import { csvLine } from '../../http/csv.js'
import { alias } from '../../http/deprecation.js'
import { decodeCursor, encodeCursor } from '../../http/pagination.js'
import { newId } from '../../ids.js'
import { type AllowList, parseAllowList } from '../../net/address-policy.js'
import type { RuleAuthInput } from '../../schemas/rule-parts.js'
import type { RuleInput, RuleListQuery, RuleView } from '../../schemas/rules.js'
import type { SecretBox } from '../../security/secret-box.js'
import {
  completeRequest,
  defaultExecution,
  defaultResponse,
  ruleFieldNames,
  ruleProblems,
} from './rule-config.js'
import * as repo from './rule-repository.js'

export interface RuleContext {
  db: Db
  box: SecretBox
  workspaceId: string
  /** The outbound allow list, for the save-time URL check. */
  allow?: AllowList
}

const authBinding = (ruleId: string) => `rules:${ruleId}:auth`

export function toRule(row: RuleRow, references: { reference: string; name: string }[]): RuleView {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    enabled: row.enabled,
    created_by: row.created_by,
    event_types: row.event_types,
    conditions: row.conditions,
    request: row.request,
    auth: { type: row.auth_type, ...(row.auth_public ?? {}), secret_set: row.auth_secret !== null },
    execution: row.execution,
    response: row.response,
    notify_on_failure: row.notify_on_failure,
    references,
    disabled_code: row.disabled_code,
    disabled_reason: row.disabled_reason,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}

/** The plaintext credentials of a rule, for the sender only. */
export function ruleCredentials(box: SecretBox, row: RuleRow): RuleAuthInput {
  const secret = row.auth_secret ? box.open(row.auth_secret, authBinding(row.id)) : ''
  const pub = row.auth_public ?? {}
  switch (row.auth_type) {
    case 'basic':
      return { type: 'basic', username: pub.username ?? '', password: secret }
    case 'bearer':
      return { type: 'bearer', token: secret }
    case 'header':
      return { type: 'header', name: pub.name ?? '', value: secret }
    default:
      return { type: 'none' }
  }
}

function sealAuth(box: SecretBox, ruleId: string, auth: RuleAuthInput) {
  const secret =
    auth.type === 'basic'
      ? auth.password
      : auth.type === 'bearer'
        ? auth.token
        : auth.type === 'header'
          ? auth.value
          : null
  return {
    auth_type: auth.type,
    auth_secret: secret ? box.seal(secret, authBinding(ruleId)) : null,
    auth_public: JSON.stringify(
      auth.type === 'basic'
        ? { username: auth.username }
        : auth.type === 'header'
          ? { name: auth.name }
          : {},
    ),
  }
}

async function check(
  ctx: RuleContext,
  rule: Required<
    Pick<RuleView, 'request' | 'conditions' | 'execution' | 'response' | 'event_types'>
  >,
  auth: RuleAuthInput | undefined,
) {
  const problems = ruleProblems({ ...rule, auth }, ctx.allow ?? parseAllowList(''))
  // The catalog check reads the templates' fields, so it needs templates that parse.
  if (problems.length > 0) throw errors.validation(problems)
  problems.push(
    ...(await unknownCatalogNames(ctx.db, ctx.workspaceId, {
      eventTypes: rule.event_types,
      fields: ruleFieldNames(rule),
    })),
  )
  if (problems.length > 0) throw errors.validation(problems)
}

export async function createRule(
  ctx: RuleContext,
  input: RuleInput & { title: string; request: RuleView['request'] },
) {
  const id = newId('rul')
  const rule = {
    request: completeRequest(input.request),
    conditions: input.conditions ?? null,
    execution: { ...defaultExecution, ...input.execution },
    response: { ...defaultResponse, ...input.response },
    event_types: input.event_types ?? [],
  }
  await check(ctx, rule, input.auth)
  const row = await repo.insertRule(ctx.db, {
    id,
    workspace_id: ctx.workspaceId,
    title: input.title,
    description: input.description ?? '',
    enabled: input.enabled ?? true,
    created_by: JSON.stringify(input.created_by ?? null),
    event_types: rule.event_types,
    conditions: JSON.stringify(rule.conditions),
    request: JSON.stringify(rule.request),
    execution: JSON.stringify(rule.execution),
    response: JSON.stringify(rule.response),
    notify_on_failure: input.notify_on_failure ?? false,
    disabled_reason: null,
    failing_since: null,
    ...sealAuth(ctx.box, id, input.auth ?? { type: 'none' }),
  })
  return toRule(row, [])
}

export async function getRuleRow(ctx: RuleContext, id: string): Promise<RuleRow> {
  const row = await repo.findRule(ctx.db, ctx.workspaceId, id)
  if (!row) throw errors.notFound('rule', id)
  return row
}

export async function getRule(ctx: RuleContext, id: string): Promise<RuleView> {
  const row = await getRuleRow(ctx, id)
  return toRule(row, await repo.listReferences(ctx.db, [id]))
}

export async function updateRule(
  ctx: RuleContext,
  id: string,
  input: RuleInput,
): Promise<RuleView> {
  const current = await getRuleRow(ctx, id)
  const rule = {
    request: input.request ? completeRequest(input.request) : current.request,
    conditions: input.conditions !== undefined ? input.conditions : current.conditions,
    execution: input.execution ? { ...defaultExecution, ...input.execution } : current.execution,
    response: input.response ? { ...defaultResponse, ...input.response } : current.response,
    event_types: input.event_types ?? current.event_types,
  }
  await check(ctx, rule, input.auth)
  const enabling = input.enabled === true && !current.enabled
  const row = await repo.updateRule(ctx.db, ctx.workspaceId, id, {
    ...(input.title !== undefined && { title: input.title }),
    ...(input.description !== undefined && { description: input.description }),
    ...(input.enabled !== undefined && { enabled: input.enabled }),
    ...(input.created_by !== undefined && { created_by: JSON.stringify(input.created_by) }),
    ...(input.notify_on_failure !== undefined && { notify_on_failure: input.notify_on_failure }),
    ...(enabling && { disabled_reason: null, disabled_code: null, failing_since: null }),
    event_types: rule.event_types,
    conditions: JSON.stringify(rule.conditions),
    request: JSON.stringify(rule.request),
    execution: JSON.stringify(rule.execution),
    response: JSON.stringify(rule.response),
    ...(input.auth && sealAuth(ctx.box, id, input.auth)),
  })
  if (!row) throw errors.notFound('rule', id)
  return toRule(row, await repo.listReferences(ctx.db, [id]))
}

export async function setRuleEnabled(
  ctx: RuleContext,
  id: string,
  enabled: boolean,
): Promise<RuleView> {
  const row = await repo.updateRule(ctx.db, ctx.workspaceId, id, {
    enabled,
    ...(enabled && { disabled_reason: null, disabled_code: null, failing_since: null }),
  })
  if (!row) throw errors.notFound('rule', id)
  return toRule(row, await repo.listReferences(ctx.db, [id]))
}

/** Deletion is final, so it is refused while the rule is enabled or used by an automation. */
export async function deleteRule(ctx: RuleContext, id: string): Promise<void> {
  const row = await getRuleRow(ctx, id)
  const [references, handlers] = await Promise.all([
    repo.listReferences(ctx.db, [id]),
    repo.handlersRunningRule(ctx.db, ctx.workspaceId, id),
  ])
  const reasons: string[] = []
  if (row.enabled) reasons.push('it is enabled (disable it first)')
  const users = [
    ...references.map((r) => `"${r.name || r.reference}"`),
    ...handlers.map((h) => `inbound handler "${h.title}" (${h.id})`),
  ]
  if (users.length > 0) reasons.push(`it is used by ${users.join(', ')}`)
  if (reasons.length > 0)
    throw errors.conflict(`rule ${id} cannot be deleted: ${reasons.join(' and ')}`)
  await repo.deleteRule(ctx.db, ctx.workspaceId, id)
}

/**
 * A copy with the same settings (credentials included), titled "… - Clone",
 * disabled, and credited to whoever cloned it (`createdBy`), not the source's author.
 */
export async function cloneRule(
  ctx: RuleContext,
  id: string,
  createdBy: { id: string; name: string } | null,
): Promise<RuleView> {
  const source = await getRuleRow(ctx, id)
  const cloneId = newId('rul')
  const credentials = ruleCredentials(ctx.box, source)
  const row = await repo.insertRule(ctx.db, {
    id: cloneId,
    workspace_id: ctx.workspaceId,
    title: `${source.title} - Clone`.slice(0, 200),
    description: source.description,
    enabled: false,
    created_by: JSON.stringify(createdBy),
    event_types: source.event_types,
    conditions: JSON.stringify(source.conditions),
    request: JSON.stringify(source.request),
    execution: JSON.stringify(source.execution),
    response: JSON.stringify(source.response),
    notify_on_failure: source.notify_on_failure,
    disabled_reason: null,
    failing_since: null,
    ...sealAuth(ctx.box, cloneId, credentials),
  })
  return toRule(row, [])
}

export async function replaceReferences(
  ctx: RuleContext,
  id: string,
  references: { reference: string; name?: string }[],
): Promise<RuleView> {
  await getRuleRow(ctx, id)
  await repo.replaceReferences(
    ctx.db,
    ctx.workspaceId,
    id,
    references.map((r) => ({ reference: r.reference, name: r.name ?? '' })),
  )
  return getRule(ctx, id)
}

/** The list's sort and filter, deprecated aliases (`status`) read as their new names. */
function listOrder(query: Omit<RuleListQuery, 'limit'>) {
  const status = query.status === undefined ? undefined : query.status === 'enabled'
  const enabled = alias(query.enabled, status, 'enabled', 'status')
  const name = query.sort.replace(/^-/, '')
  return {
    descending: query.sort.startsWith('-'),
    sort: (name === 'status' ? 'enabled' : name) as repo.RuleSortKey,
    filter: { q: query.q, eventType: query.event_type, enabled },
  }
}

export async function listRules(ctx: RuleContext, query: RuleListQuery) {
  const { descending, sort, filter } = listOrder(query)
  let after: [string | number, string] | undefined
  if (query.cursor) {
    const [value, id] = decodeCursor(query.cursor, 2)
    // A cursor from another sort would reach SQL as the wrong type: refuse it here.
    if (typeof value !== (sort === 'enabled' ? 'number' : 'string')) throw errors.invalidCursor()
    after = [value as string | number, String(id)]
  }
  const rows = await repo.listRules(ctx.db, ctx.workspaceId, {
    limit: query.limit + 1,
    sort,
    descending,
    after,
    filter,
  })
  const pageRows = rows.slice(0, query.limit)
  const last = pageRows[pageRows.length - 1]
  const references = await repo.listReferences(
    ctx.db,
    pageRows.map((r) => r.id),
  )
  return {
    data: pageRows.map((row) =>
      toRule(
        row,
        references
          .filter((r) => r.rule_id === row.id)
          .map(({ reference, name }) => ({ reference, name })),
      ),
    ),
    next_cursor:
      rows.length > query.limit && last ? encodeCursor([last.sort_value, last.id]) : null,
  }
}

const EXPORT_LIMIT = 10_000

/** The filtered rules as CSV, in the list's order (at most 10,000 rows). */
export async function exportRulesCsv(ctx: RuleContext, query: RuleListQuery): Promise<string> {
  const rows = await repo.listRules(ctx.db, ctx.workspaceId, {
    limit: EXPORT_LIMIT,
    ...listOrder(query),
  })
  let out = csvLine([
    'id',
    'title',
    'status',
    'trigger',
    'method',
    'url',
    'created_by',
    'created_at',
    'updated_at',
  ])
  for (const r of rows) {
    out += csvLine([
      r.id,
      r.title,
      r.enabled ? 'enabled' : 'disabled',
      r.event_types.length ? r.event_types.join(' ') : 'manual',
      r.request.method,
      r.request.url,
      r.created_by?.name ?? '',
      r.created_at.toISOString(),
      r.updated_at.toISOString(),
    ])
  }
  return out
}
