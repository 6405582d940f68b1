import { TemplateError } from './template-error.js'

/**
 * How long one request's templates may render: the URL, headers and body of
 * a delivery (every record of a batch), a preview, a test, or a handler's
 * answer. Rendering is synchronous, so this bounds how long a tenant's
 * template can hold the thread it runs on. Set once per process from
 * TEMPLATE_RENDER_BUDGET_MS.
 */
export const DEFAULT_RENDER_BUDGET_MS = 50

let budgetMs = DEFAULT_RENDER_BUDGET_MS

export function setRenderBudgetMs(ms: number): void {
  budgetMs = ms
}

export function renderBudgetMs(): number {
  return budgetMs
}

/** One deadline shared by every template a request renders. */
export class RenderBudget {
  readonly ms: number
  readonly deadline: number

  constructor(ms = budgetMs, start = performance.now()) {
    this.ms = ms
    this.deadline = start + ms
  }

  /** Milliseconds left; throws the budget's error when none are. */
  remaining(): number {
    const left = this.deadline - performance.now()
    if (left <= 0) throw overBudget(this.ms)
    return left
  }
}

/** What a delivery, preview or test reports; `what` names the template ("the body template"). */
export function overBudget(ms: number, what = 'the template'): TemplateError {
  return new TemplateError('template_budget', `${what} exceeded its render budget of ${ms} ms`)
}

// Rendering is synchronous: the budget of the request being rendered is set
// around it, and every template rendered meanwhile draws on it.
let current: RenderBudget | undefined

/** Runs `render` with every template it renders drawing on `budget`. */
export function withinBudget<T>(budget: RenderBudget, render: () => T): T {
  const outer = current
  current = budget
  try {
    return render()
  } finally {
    current = outer
  }
}

/** The budget of the request being rendered; outside one, a budget of its own. */
export function currentBudget(): RenderBudget {
  return current ?? new RenderBudget()
}
