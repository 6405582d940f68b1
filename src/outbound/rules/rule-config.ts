import type { ConditionGroup } from '../../conditions/condition-schema.js'
import { conditionFields, validateCondition } from '../../conditions/validate-condition.js'
import { type AllowList, checkUrlForSave } from '../../net/address-policy.js'
import { reservedHeaderProblem } from '../../net/reserved-headers.js'
import type {
  RuleAuthInput,
  RuleExecution,
  RuleRequest,
  RuleResponse,
} from '../../schemas/rule-parts.js'
import type { RuleInput } from '../../schemas/rules.js'
import {
  isTextPairKey,
  isXmlName,
  templateFields,
  validateTemplate,
} from '../../templates/render.js'

export const defaultExecution: RuleExecution = {
  delay_seconds: 0,
  mode: 'background',
  timeout_ms: 15_000,
  max_attempts: 3,
  success: '2xx',
  batch_window_seconds: 0,
  rate_limit_per_second: null,
}

export const defaultResponse: RuleResponse = { format: 'json', mapping: [] }

/** Fills in what a rule may leave out, so stored rules are always complete. */
export function completeRequest(request: RuleRequest): RuleRequest {
  return {
    method: request.method,
    url: request.url,
    body_format: request.body_format,
    body_template: request.body_template ?? null,
    body_pairs: request.body_pairs ?? null,
    ...(request.xml_root ? { xml_root: request.xml_root } : {}),
    headers: request.headers ?? [],
    append_record_params: request.append_record_params ?? false,
  }
}

/**
 * What JSON Schema cannot say about a rule: template syntax, the condition
 * tree's sense, body choices. One message per problem, each naming its field.
 */
export function ruleProblems(
  input: {
    request: RuleRequest
    conditions: ConditionGroup | null
    execution: RuleExecution
    response?: { format: string; mapping: { path: string }[] }
    /** The auth sent with the change, if any: a custom header's name is checked like headers. */
    auth?: RuleAuthInput | undefined
  },
  allow: AllowList,
): string[] {
  const problems: string[] = []
  const { request } = input
  const url = urlProblem(request.url, allow)
  if (url) problems.push(`body/request/url: ${url}`)
  for (const [i, header] of (request.headers ?? []).entries()) {
    const reserved = reservedHeaderProblem(header.name)
    if (reserved) problems.push(`body/request/headers/${i}/name: ${reserved}`)
  }
  if (input.auth?.type === 'header') {
    const reserved = reservedHeaderProblem(input.auth.name)
    if (reserved) problems.push(`body/auth/name: ${reserved}`)
  }
  if (input.conditions) problems.push(...validateCondition(input.conditions, 'body/conditions'))
  for (const [path, template] of templatesOf(request)) {
    for (const message of validateTemplate(template)) problems.push(`${path}: ${message}`)
  }
  if (request.body_template != null && request.body_pairs != null) {
    problems.push('body/request: give body_template or body_pairs, not both')
  }
  if ((request.method === 'GET' || request.method === 'DELETE') && request.body_template) {
    problems.push(
      `body/request/body_template: a ${request.method} request has no body; use body_pairs (sent as query parameters)`,
    )
  }
  // XML pairs become elements (GET and DELETE send them as query parameters instead).
  if (request.body_format === 'xml' && request.method !== 'GET' && request.method !== 'DELETE') {
    for (const [i, pair] of (request.body_pairs ?? []).entries()) {
      if (!isXmlName(pair.key)) {
        problems.push(
          `body/request/body_pairs/${i}/key: '${pair.key}' cannot be an XML element name`,
        )
      }
    }
  }
  // Text pairs become `key=value` lines.
  if (request.body_format === 'text' && request.method !== 'GET' && request.method !== 'DELETE') {
    for (const [i, pair] of (request.body_pairs ?? []).entries()) {
      if (!isTextPairKey(pair.key)) {
        problems.push(
          `body/request/body_pairs/${i}/key: '${pair.key}' cannot start a key=value line (no '=' or line break)`,
        )
      }
    }
  }
  const unbatchable = batchProblem(request)
  if (unbatchable && input.execution.batch_window_seconds > 0) {
    problems.push(`body/execution/batch_window_seconds: ${unbatchable}`)
  }
  // A text response is one value: the whole body, at `text`; any other path would never be found.
  if (input.response?.format === 'text') {
    for (const [i, { path }] of input.response.mapping.entries()) {
      if (path !== 'text')
        problems.push(
          `body/response/mapping/${i}/path: a text response has one value, "text" (the whole body); '${path}' would never be found`,
        )
    }
  }
  if (input.execution.mode === 'inline' && input.execution.batch_window_seconds > 0) {
    problems.push('body/execution/batch_window_seconds: batching needs mode "background"')
  }
  return problems
}

/**
 * Why a request cannot carry a batch, or null when it can. JSON batches are
 * an array, XML a `<batch>`, form indexed keys (`records[0][id]=…`); text
 * has no shape a receiver could split back whatever the template writes, and
 * GET and DELETE carry one record's pairs in the query string.
 */
export function batchProblem(request: Pick<RuleRequest, 'method' | 'body_format'>): string | null {
  if (request.method === 'GET' || request.method === 'DELETE') {
    return `a ${request.method} request carries one record in its query string and cannot be batched`
  }
  if (request.body_format === 'text') {
    return 'text bodies cannot be batched (a receiver could not split them back); use json, form or xml'
  }
  return null
}

/**
 * A rule as the event intake uses it: a batching window on a request that
 * cannot carry a batch (saved before that was refused) is ignored, so each
 * record goes alone instead of joined into a body nobody can split.
 */
export function withUsableBatchWindow<T extends { request: RuleRequest; execution: RuleExecution }>(
  rule: T,
): T {
  if (rule.execution.batch_window_seconds === 0 || !batchProblem(rule.request)) return rule
  return { ...rule, execution: { ...rule.execution, batch_window_seconds: 0 } }
}

/**
 * The URL's save-time check (scheme, no credentials, no literal private
 * address). A host made of a template is checked when sending instead, on
 * every address it resolves to.
 */
export function urlProblem(template: string, allow: AllowList): string | null {
  const host = template.replace(/^[a-z]+:\/\//i, '').split(/[/?#]/)[0] ?? ''
  if (/\{\{|\{%/.test(host)) return null
  return checkUrlForSave(template.replace(/\{\{.*?\}\}|\{%.*?%\}/g, 'x'), allow)
}

/** Every template in a request, with the field path an error should name. */
export function templatesOf(request: RuleRequest): [string, string][] {
  const out: [string, string][] = [['body/request/url', request.url]]
  if (request.body_template) out.push(['body/request/body_template', request.body_template])
  for (const [i, pair] of (request.body_pairs ?? []).entries()) {
    out.push([`body/request/body_pairs/${i}/value`, pair.value])
  }
  for (const [i, header] of (request.headers ?? []).entries()) {
    out.push([`body/request/headers/${i}/value`, header.value])
  }
  return out
}

/** Field names a rule reads or writes, for the catalog check. */
export function ruleFieldNames(input: {
  request: RuleRequest
  conditions: ConditionGroup | null
  response: RuleResponse
}): string[] {
  const names = new Set<string>()
  if (input.conditions) for (const f of conditionFields(input.conditions)) names.add(f)
  for (const [, template] of templatesOf(input.request)) {
    for (const f of templateFields(template)) names.add(f)
  }
  for (const m of input.response.mapping) names.add(m.field)
  return [...names]
}

export type { RuleInput }
