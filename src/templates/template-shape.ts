import type { Template } from 'liquidjs'

/**
 * What a parsed template does, read without rendering it: how deep its loops
 * nest, which literal ranges it builds, which filters and tags it uses. Save
 * refuses what is already too big (templateLimitProblems); a render picks
 * where to run from it (isPlain).
 */
export interface TemplateShape {
  loopDepth: number
  /** Literal ranges: `(1..16000000)` has 16,000,000 items; a bound read from the record is null. */
  ranges: { text: string; size: number | null }[]
  filters: Set<string>
  tags: Set<string>
}

/** A template may nest loops this deep (orders → items → options). */
export const MAX_LOOP_DEPTH = 3
/** A literal range may hold this many items. */
export const MAX_LITERAL_RANGE = 10_000

/**
 * Filters whose cost is linear in the text they are given, with a small
 * constant: a template using only these (and no tags) is "plain", and
 * renders where it is asked to. Filters over arrays (`where`, `map`, `sort`,
 * `join`, `split`...), `truncatewords` and `strip_html` (regular expressions
 * that backtrack) are left out: their cost per item is high or not linear.
 */
const PLAIN_FILTERS = new Set([
  'abs',
  'append',
  'at_least',
  'at_most',
  'base64_decode',
  'base64_encode',
  'capitalize',
  'ceil',
  'cgi_escape',
  'date',
  'date_to_long_string',
  'date_to_rfc822',
  'date_to_string',
  'date_to_xmlschema',
  'default',
  'divided_by',
  'downcase',
  'escape',
  'escape_once',
  'first',
  'floor',
  'json',
  'jsonify',
  'last',
  'lstrip',
  'minus',
  'modulo',
  'newline_to_br',
  'plus',
  'prepend',
  'raw',
  'remove',
  'remove_first',
  'remove_last',
  'replace',
  'replace_first',
  'replace_last',
  'round',
  'rstrip',
  'size',
  'slice',
  'strip',
  'strip_newlines',
  'times',
  'to_integer',
  'truncate',
  'upcase',
  'uri_escape',
  'url_decode',
  'url_encode',
  'xml_escape',
])

interface Node {
  name?: string
  arguments?: () => Iterable<unknown>
  children?: (partials: boolean, sync: boolean) => Generator<unknown, unknown, unknown>
}

interface Token {
  kind?: number
  lhs?: Token
  rhs?: Token
  content?: unknown
  initial?: { postfix?: Token[] }
  filters?: { name: string; args: unknown[] }[]
  postfix?: Token[]
  getText?: () => string
}

export function shapeOf(templates: Template[]): TemplateShape {
  const shape: TemplateShape = { loopDepth: 0, ranges: [], filters: new Set(), tags: new Set() }
  visitAll(templates as unknown as Node[], 0, shape)
  return shape
}

function visitAll(nodes: Node[], depth: number, shape: TemplateShape): void {
  for (const node of nodes) visit(node, depth, shape)
}

function visit(node: Node, depth: number, shape: TemplateShape): void {
  const isLoop = node.name === 'for'
  if (node.name) shape.tags.add(node.name)
  const inner = isLoop ? depth + 1 : depth
  if (inner > shape.loopDepth) shape.loopDepth = inner
  if (node.arguments) for (const arg of node.arguments()) visitValue(arg as Token, shape)
  if (node.children) visitAll(runSync(node.children(false, true)) as Node[], inner, shape)
}

/** A Value (`initial` and `filters`), or a value token: a range, a grouped expression... */
function visitValue(value: Token | undefined, shape: TemplateShape): void {
  if (!value || typeof value !== 'object') return
  if (value.lhs && value.rhs) {
    shape.ranges.push({ text: value.getText?.() ?? '', size: rangeSize(value.lhs, value.rhs) })
    visitValue(value.lhs, shape)
    visitValue(value.rhs, shape)
    return
  }
  for (const token of value.initial?.postfix ?? value.postfix ?? []) visitValue(token, shape)
  for (const filter of value.filters ?? []) {
    // The output escape Liquid appends is named by its source text, not a word.
    if (/^\w+$/.test(filter.name)) shape.filters.add(filter.name)
    for (const arg of filter.args) visitValue((Array.isArray(arg) ? arg[1] : arg) as Token, shape)
  }
}

function rangeSize(lhs: Token, rhs: Token): number | null {
  const low = lhs.content
  const high = rhs.content
  if (typeof low !== 'number' || typeof high !== 'number') return null
  return Math.max(0, Math.floor(high) - Math.ceil(low) + 1)
}

/** Liquid's `children()` is a generator that returns its list (it yields only for partials). */
function runSync(generator: Generator<unknown, unknown, unknown>): unknown[] {
  let step = generator.next()
  while (!step.done) step = generator.next(step.value)
  return (step.value as unknown[]) ?? []
}

/** What save refuses: literal ranges past MAX_LITERAL_RANGE, loops nested past MAX_LOOP_DEPTH. */
export function shapeProblems(shape: TemplateShape): string[] {
  const problems: string[] = []
  for (const range of shape.ranges) {
    if (range.size !== null && range.size > MAX_LITERAL_RANGE) {
      problems.push(
        `the range ${range.text} has ${range.size} items; a template may use at most ${MAX_LITERAL_RANGE}`,
      )
    }
  }
  if (shape.loopDepth > MAX_LOOP_DEPTH) {
    problems.push(
      `loops are nested ${shape.loopDepth} deep; a template may nest at most ${MAX_LOOP_DEPTH}`,
    )
  }
  return problems
}

/** No tags, no ranges, only PLAIN_FILTERS: its cost is linear in the record it is given. */
export function isPlain(shape: TemplateShape): boolean {
  if (shape.tags.size > 0 || shape.ranges.length > 0) return false
  for (const name of shape.filters) if (!PLAIN_FILTERS.has(name)) return false
  return true
}
