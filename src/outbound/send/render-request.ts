import type { RuleRow } from '../../db/tables/rules.js'
import type { OutboundRequest } from '../../net/http-sender.js'
import type { RuleAuthInput } from '../../schemas/rule-parts.js'
import { isPlainTemplate } from '../../templates/render.js'
import { renderBudgetMs } from '../../templates/render-budget.js'
import { renderOnThread } from '../../templates/render-pool.js'
import { type DeliveryRecord, REQUEST_PARTS, renderRuleRequest } from './build-request.js'

/**
 * A rule's request for a delivery, a preview or a test, within the render
 * budget. Plain templates (fields, text filters: the common rule) render here
 * at once; any other goes to a render thread, which the event loop does not
 * wait on, in its workspace's turn. Throws `TemplateError`.
 */
export async function renderRequest(
  rule: Pick<RuleRow, 'request' | 'workspace_id'>,
  records: DeliveryRecord | DeliveryRecord[],
  credentials: RuleAuthInput,
): Promise<OutboundRequest> {
  if (isPlainRequest(rule.request)) return renderRuleRequest(rule, records, credentials)
  return renderOnThread<OutboundRequest>(
    {
      module: BUILD_REQUEST,
      name: 'renderRuleTask',
      input: { request: rule.request, records, credentials },
      budgetMs: renderBudgetMs(),
      parts: REQUEST_PARTS,
    },
    rule.workspace_id,
  )
}

// What a render thread loads: the compiled module, or under tsx its source.
const BUILD_REQUEST = new URL(
  `./build-request.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`,
  import.meta.url,
).href

/** Whether every template of a rule's request is plain: it renders at once, off the render threads. */
export function isPlainRequest(request: RuleRow['request']): boolean {
  if (!isPlainTemplate(request.url)) return false
  if (request.body_template && !isPlainTemplate(request.body_template)) return false
  for (const pair of request.body_pairs ?? []) if (!isPlainTemplate(pair.value)) return false
  for (const header of request.headers ?? []) if (!isPlainTemplate(header.value)) return false
  return true
}
