/**
 * What a request's validation found, for the error body: `message` names the
 * one problem most likely meant (kept as it was), `errors` lists them all as
 * `{ path, code, message }`.
 */

export interface ValidationIssue {
  instancePath: string
  schemaPath?: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

/** One problem: where (`body/rules/0/url`), which check failed, and why. */
export interface Problem {
  path: string
  code: string
  message: string
}

/** `body/rules/0/url: must match format "uri"`: the field first, then why. */
export function describeValidation(context: string, issue: ValidationIssue): string {
  const { path, message } = toProblem(context, issue)
  return `${path}: ${message}`
}

function toProblem(context: string, issue: ValidationIssue): Problem {
  const at = `${context}${issue.instancePath}`
  const code = snakeCase(issue.keyword)
  switch (issue.keyword) {
    case 'additionalProperties':
      return {
        path: `${at}/${issue.params.additionalProperty}`,
        code,
        message: 'unknown property (not allowed here)',
      }
    case 'required':
      return {
        path: `${at}/${issue.params.missingProperty}`,
        code,
        message: 'required property is missing',
      }
    case 'enum':
      return {
        path: at,
        code,
        message: `must be one of ${JSON.stringify(issue.params.allowedValues)}`,
      }
    default:
      return { path: at, code, message: issue.message ?? 'is invalid' }
  }
}

const snakeCase = (keyword: string) => keyword.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/**
 * Every problem, without a union's noise: branches whose `type` constant did
 * not match are dropped, and of the branches left the one with the deepest
 * problem is the one meant (`anyOf: [X, null]` does not add "must be null").
 */
export function listProblems(context: string, issues: ValidationIssue[]): Problem[] {
  let kept = dropRejectedBranches(issues)
  const unions = issues
    .filter((i) => i.keyword === 'anyOf' && i.schemaPath)
    .map((i) => i.schemaPath as string)
    .sort((a, b) => a.length - b.length)
  for (const union of unions) {
    const branchOf = (i: ValidationIssue) =>
      (i.schemaPath ?? '').startsWith(`${union}/`)
        ? (i.schemaPath as string).slice(union.length + 1).split('/')[0]
        : undefined
    let meant: ValidationIssue | undefined
    for (const issue of kept) {
      if (branchOf(issue) !== undefined && (!meant || depth(issue) > depth(meant))) meant = issue
    }
    if (meant) {
      const branch = branchOf(meant)
      kept = kept.filter((i) => branchOf(i) === undefined || branchOf(i) === branch)
    }
  }
  const left = kept.filter((i) => i.keyword !== 'anyOf')
  const seen = new Set<string>()
  const problems: Problem[] = []
  for (const issue of left.length > 0 ? left : issues) {
    const problem = toProblem(context, issue)
    const key = `${problem.path}\u0000${problem.message}`
    if (seen.has(key)) continue
    seen.add(key)
    problems.push(problem)
  }
  return problems
}

const PATH = /^(?:body|querystring|params|headers|request)(?:\/\S*)?$/

/**
 * A service's own checks (templates, conditions, catalog names) arrive as
 * `body/request/url: why` strings; code `invalid` says no schema keyword failed.
 */
export function problemsOf(messages: string[]): Problem[] {
  return messages.map((text) => {
    const colon = text.indexOf(': ')
    const path = colon > 0 ? text.slice(0, colon) : ''
    return PATH.test(path)
      ? { path, code: 'invalid', message: text.slice(colon + 2) }
      : { path: 'request', code: 'invalid', message: text }
  })
}

/**
 * Bodies are validated with every error collected, so a union (`anyOf`)
 * reports each branch's complaints. The useful one comes from the branch the
 * caller meant: branches whose `type` constant did not match are dropped,
 * then the deepest path wins (it names the property at fault).
 */
export function pickIssue(issues: ValidationIssue[]): ValidationIssue | undefined {
  const kept = dropRejectedBranches(issues).filter((i) => i.keyword !== 'anyOf')
  const pool = kept.length > 0 ? kept : issues
  let best = pool[0]
  for (const issue of pool) if (best && depth(issue) > depth(best)) best = issue
  return best
}

function dropRejectedBranches(issues: ValidationIssue[]): ValidationIssue[] {
  const rejected = issues
    .filter((i) => i.keyword === 'const' && i.instancePath.endsWith('/type'))
    .map((i) => ({
      branch: branchOf(i.schemaPath ?? ''),
      at: i.instancePath.slice(0, -'/type'.length),
    }))
    .filter((r) => r.branch !== undefined)
  return issues.filter(
    (i) =>
      !rejected.some(
        (r) => (i.schemaPath ?? '').startsWith(`${r.branch}/`) && i.instancePath.startsWith(r.at),
      ),
  )
}

function branchOf(schemaPath: string): string | undefined {
  const match = /^(.*\/anyOf\/\d+)\/properties\/type\/const$/.exec(schemaPath)
  return match?.[1]
}

const depth = (issue: ValidationIssue) => issue.instancePath.split('/').length
