import { unknownCatalogNames } from '../catalog/catalog-service.js'
import type { ConditionGroup, ConditionItem } from '../conditions/condition-schema.js'
import { validateCondition } from '../conditions/validate-condition.js'
import type { Db } from '../db/database.js'
import type { HandlerAction, HandlerResponse } from '../schemas/handler-parts.js'
import { templateFields, validateTemplate } from '../templates/render.js'
import { type InboundMappingEntry, mappingProblem } from './mapping.js'
import type { InboundParameter } from './parameters.js'

/** What a saved handler must satisfy beyond its JSON Schema. */
export interface HandlerRules {
  parameters: InboundParameter[]
  mapping: InboundMappingEntry[]
  conditions: ConditionGroup | null
  response: HandlerResponse
  actions: HandlerAction[]
}

// Response templates read these and nothing else (see respond.ts).
const TEMPLATE_ROOTS = new Set(['params', 'record', 'call'])

// Set by Hookline or by the HTTP layer; a configured value would break the answer.
const RESERVED_HEADERS = new Set([
  'content-type',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'trailer',
  'te',
  'date',
  'x-request-id',
  'x-hookline-call-id',
])

/**
 * Messages naming the place of each problem (`body/mapping: …`); empty when
 * the handler can be saved. Only the parts being saved are given.
 */
export async function handlerProblems(
  db: Db,
  workspaceId: string,
  handler: Partial<HandlerRules>,
): Promise<string[]> {
  const problems: string[] = []
  if (handler.parameters) {
    const seen = new Set<string>()
    for (const { name } of handler.parameters) {
      if (seen.has(name)) problems.push(`body/parameters: ${name} is declared twice`)
      seen.add(name)
    }
  }
  if (handler.mapping) {
    const problem = mappingProblem(handler.mapping)
    if (problem) problems.push(`body/${problem}`)
    const unknown = await unknownCatalogNames(db, workspaceId, {
      fields: handler.mapping.map((entry) => entry.target),
    })
    problems.push(...unknown.map((message) => `body/mapping: ${message}`))
  }
  if (handler.conditions) {
    problems.push(...validateCondition(handler.conditions, 'body/conditions'))
    problems.push(...changeTests(handler.conditions, 'body/conditions'))
  }
  if (handler.response) problems.push(...responseProblems(handler.response))
  if (handler.actions?.length)
    problems.push(...(await actionProblems(db, workspaceId, handler.actions)))
  return problems
}

// They compare a record with its previous fields; a call has none, so they could never match.
const CHANGE_OPERATORS = new Set(['changed', 'changed_from_to'])

function changeTests(item: ConditionItem, at: string): string[] {
  if ('all' in item || 'any' in item) {
    const [key, items] = 'all' in item ? ['all', item.all] : ['any', item.any]
    return items.flatMap((child, i) => changeTests(child, `${at}.${key}[${i}]`))
  }
  return CHANGE_OPERATORS.has(item.op)
    ? [
        `${at}.op: '${item.op}' compares with a record's previous fields, which an inbound call ` +
          'does not have; it could never match',
      ]
    : []
}

function responseProblems(response: HandlerResponse): string[] {
  const problems: string[] = []
  const template = (text: string, at: string) => {
    const syntax = validateTemplate(text)
    if (syntax.length > 0) return problems.push(...syntax.map((message) => `${at}: ${message}`))
    for (const field of templateFields(text)) {
      const root = field.split('.')[0] ?? ''
      if (!TEMPLATE_ROOTS.has(root)) {
        problems.push(`${at}: {{ ${field} }} reads nothing; use params.*, record.* or call.id`)
      }
    }
  }
  if (response.body_template) template(response.body_template, 'body/response/body_template')
  for (const [i, header] of response.headers.entries()) {
    if (RESERVED_HEADERS.has(header.name.toLowerCase())) {
      problems.push(`body/response/headers/${i}/name: ${header.name} is set by Hookline`)
    }
    template(header.value, `body/response/headers/${i}/value`)
  }
  if (response.status === 204 && response.body_template) {
    problems.push('body/response/body_template: a 204 answer has no body')
  }
  return problems
}

async function actionProblems(
  db: Db,
  workspaceId: string,
  actions: HandlerAction[],
): Promise<string[]> {
  const ids = [...new Set(actions.map((action) => action.rule_id))]
  const found = await db
    .selectFrom('rules')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', ids)
    .execute()
  const known = new Set(found.map((row) => row.id))
  return actions.flatMap((action, i) =>
    known.has(action.rule_id)
      ? []
      : [`body/actions/${i}/rule_id: no rule ${action.rule_id} in this workspace`],
  )
}
