/**
 * Why a template could not be used. `template_syntax` is found when saving
 * (validateTemplate); the others happen while rendering a record, and the
 * delivery records the message so the rule's author can fix the template.
 * `template_budget`: the render took longer than its budget (render-budget.ts).
 */
export type TemplateErrorCode =
  | 'template_syntax'
  | 'template_render'
  | 'template_limit'
  | 'template_budget'

export class TemplateError extends Error {
  override name = 'TemplateError'
  constructor(
    readonly code: TemplateErrorCode,
    message: string,
  ) {
    super(message)
  }
}
