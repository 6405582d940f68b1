import { type Context, Liquid, LiquidError, type Template } from 'liquidjs'
import { LruCache } from '../lru-cache.js'
import { currentBudget, overBudget } from './render-budget.js'
import { TemplateError } from './template-error.js'
import { isPlain, shapeOf, shapeProblems, type TemplateShape } from './template-shape.js'
import { JsonText, jsonReplacer } from './values.js'

/**
 * The one Liquid engine every template renders with, locked down for
 * untrusted input, and the "slots" trick that lets each output format do its
 * own escaping.
 *
 * Liquid's `outputEscape` runs as the last filter of every `{{ }}` (and
 * `echo`). Ours does not escape: it stores the value and writes a placeholder
 * `\0<n>\0`. The render thus yields the template's own text with a marked
 * place for each value, and the caller escapes each value for where it landed
 * (inside a JSON string, an XML attribute, a URL...). Context is read from
 * the rendered text, so `{% if %}` and `{% for %}` need no special care.
 * Template text may not contain NUL, so the markers cannot be forged.
 */

export const MAX_TEMPLATE_LENGTH = 256 * 1024
// Liquid's unit: characters or items allocated by filters and ranges. The
// render's time is bounded by its budget (render-budget.ts).
const MEMORY_LIMIT = 4 * 1024 * 1024
// At most this many outputs per render: a loop that emits more is runaway.
const MAX_VALUES = 100_000
// Parsed templates are cached by their text; big ones are rare and reparse quickly.
const PARSE_CACHE_SIZE = 500
const MAX_CACHED_LENGTH = 16 * 1024

export type TemplateData = Record<string, unknown>

/** A render before escaping: `text` holds `\0<n>\0` where `values[n]` goes. */
export interface SlottedRender {
  text: string
  values: unknown[]
}

const SLOTS = Symbol('hookline.slots')

/** What Liquid binds `this` to in a filter. */
interface FilterThis {
  context: Context
}

/**
 * Tags that read other templates (files), mutate the caller's data
 * (increment, decrement), hide a value's marker inside a variable (capture:
 * `{{ x | size }}` would measure the marker), or only serve HTML pages
 * (cycle, tablerow).
 */
const BLOCKED_TAGS: Record<string, string> = {
  include: 'templates cannot include other templates',
  render: 'templates cannot include other templates',
  layout: 'templates cannot include other templates',
  block: 'templates cannot include other templates',
  capture:
    "use {% assign %} with filters, e.g. {% assign name = lead.first | append: ' ' | append: lead.last %}",
  cycle: 'it is meant for HTML pages',
  tablerow: 'it is meant for HTML pages',
  increment: 'it would change the record; use {% assign %} with the plus filter',
  decrement: 'it would change the record; use {% assign %} with the minus filter',
}

const engine = createEngine()
const parsed = new LruCache<string, Template[]>(PARSE_CACHE_SIZE)

function createEngine(): Liquid {
  const liquid = new Liquid({
    outputEscape: toSlot,
    strictFilters: true,
    // Records often lack optional fields: a missing one renders empty rather than failing the delivery.
    strictVariables: false,
    ownPropertyOnly: true,
    // An empty in-memory file system: nothing is ever read from disk.
    templates: {},
    // Dates render the same wherever the service runs.
    timezoneOffset: 0,
    locale: 'en-US',
    parseLimit: MAX_TEMPLATE_LENGTH,
    memoryLimit: MEMORY_LIMIT,
  })
  for (const [name, why] of Object.entries(BLOCKED_TAGS)) {
    liquid.registerTag(name, {
      parse() {
        throw new Error(`{% ${name} %} is not available: ${why}`)
      },
      render() {},
    })
  }
  // `raw` would skip the escaping; as a plain function it no longer does.
  liquid.registerFilter('raw', (value: unknown) => value)
  liquid.registerFilter('json', function (this: FilterThis, value: unknown, space?: unknown) {
    const json = JSON.stringify(value, jsonReplacer, Number(space) || 0) ?? 'null'
    this.context.memoryLimit.use(json.length)
    return new JsonText(json)
  })
  return liquid
}

function toSlot(this: FilterThis, value: unknown): string {
  const values = (this.context.globals as { [SLOTS]: unknown[] })[SLOTS]
  if (values.length >= MAX_VALUES) {
    throw new TemplateError('template_limit', `the template writes more than ${MAX_VALUES} values`)
  }
  values.push(value)
  return marker(values.length - 1)
}

export function marker(index: number): string {
  return `\0${index}\0`
}

/** Parses, or answers from the cache; throws `TemplateError('template_syntax')`. */
export function parseTemplate(template: string): Template[] {
  const cached = parsed.get(template)
  if (cached) return cached
  if (template.length > MAX_TEMPLATE_LENGTH) {
    throw new TemplateError(
      'template_syntax',
      `template is longer than ${MAX_TEMPLATE_LENGTH} characters`,
    )
  }
  if (template.includes('\0')) {
    throw new TemplateError('template_syntax', 'template contains a NUL character')
  }
  let templates: Template[]
  try {
    templates = engine.parse(template)
  } catch (error) {
    throw asTemplateError(error, 'template_syntax')
  }
  if (template.length <= MAX_CACHED_LENGTH) parsed.set(template, templates)
  return templates
}

export function renderSlots(template: string, data: TemplateData): SlottedRender {
  const sole = readSolePath(template, data)
  if (sole) return { text: marker(0), values: [sole.value] }
  // No `{{` or `{%`: Liquid would give the text back as it is (a rule's fixed URL).
  if (isConstant(template)) return { text: template, values: [] }
  return renderWithLiquid(template, data)
}

function isConstant(template: string): boolean {
  return (
    template.length <= MAX_TEMPLATE_LENGTH && !template.includes('{') && !template.includes('\0')
  )
}

/** `renderSlots` without the shortcut below (exported for the test that compares the two). */
export function renderWithLiquid(template: string, data: TemplateData): SlottedRender {
  const templates = parseTemplate(template)
  const values: unknown[] = []
  const budget = currentBudget()
  // A plain template's cost is bounded by its record: it gets no deadline,
  // which a stalled machine alone could pass (a GC pause, a busy core), failing
  // a delivery that renders fine. Others are checked by Liquid before each
  // node and each loop iteration.
  const renderLimit = isPlainParse(templates) ? Infinity : budget.remaining()
  try {
    const text: string = engine.renderSync(templates, data, {
      globals: { [SLOTS]: values },
      renderLimit,
    })
    return { text, values }
  } catch (error) {
    const found = asTemplateError(error, 'template_render')
    throw found.message.startsWith('template render limit exceeded') ? overBudget(budget.ms) : found
  }
}

// `{{ lead.email }}` and nothing else: most pairs, URLs' parts and headers.
const SOLE_PATH = /^\{\{ *([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*) *\}\}$/
// Names Liquid answers itself (an array's size, first and last element).
const LIQUID_NAMES = new Set(['size', 'first', 'last'])

/**
 * A template that is one plain variable, read straight from the data when
 * each step is an own property of a plain object: what Liquid would write
 * into the slot, without building a render context (a third of a delivery's
 * rendering time). Anything else (a filter, a missing step, an array, a name
 * Liquid answers itself) answers undefined and goes through Liquid.
 */
function readSolePath(template: string, data: TemplateData): { value: unknown } | undefined {
  if (template.length > 256 || !template.startsWith('{{')) return undefined
  const steps = solePathSteps(template)
  if (!steps) return undefined
  let value: unknown = data
  for (const step of steps) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
    if (!Object.hasOwn(value, step)) return undefined
    value = (value as Record<string, unknown>)[step]
  }
  if (value === undefined || typeof value === 'function') return undefined
  return { value }
}

// The steps of each short template's sole path (null: not one), parsed once.
const solePaths = new Map<string, readonly string[] | null>()

function solePathSteps(template: string): readonly string[] | null {
  let steps = solePaths.get(template)
  if (steps === undefined) {
    const path = SOLE_PATH.exec(template)?.[1]
    const split = path ? path.split('.') : []
    steps = split.length > 0 && !split.some((step) => LIQUID_NAMES.has(step)) ? split : null
    if (solePaths.size >= PARSE_CACHE_SIZE) solePaths.clear()
    solePaths.set(template, steps)
  }
  return steps
}

/**
 * Syntax problems, as messages with line and column, and what is already too
 * big to render (template-shape.ts); empty when the template may be saved.
 */
export function validateTemplate(template: string): string[] {
  try {
    return shapeProblems(templateShape(template))
  } catch (error) {
    return [(error as Error).message]
  }
}

const shapes = new WeakMap<Template[], TemplateShape>()

/** What the template does (loops, ranges, filters), read once per parse. */
export function templateShape(template: string): TemplateShape {
  return cachedShape(parseTemplate(template))
}

const plainParses = new WeakMap<Template[], boolean>()

function isPlainParse(templates: Template[]): boolean {
  let plain = plainParses.get(templates)
  if (plain === undefined) {
    plain = isPlain(cachedShape(templates))
    plainParses.set(templates, plain)
  }
  return plain
}

function cachedShape(templates: Template[]): TemplateShape {
  let shape = shapes.get(templates)
  if (!shape) {
    shape = shapeOf(templates)
    shapes.set(templates, shape)
  }
  return shape
}

/**
 * Whether the template's cost is linear in its record (no tags, no ranges,
 * only filters over text: see template-shape.ts). Others may loop or filter
 * arrays without end, and render off the event loop (outbound/send/render-pool.ts).
 * A template that does not parse counts as plain: rendering it fails at once.
 */
export function isPlainTemplate(template: string): boolean {
  if (isConstant(template) || (template.length <= 256 && solePathSteps(template))) return true
  try {
    return isPlain(templateShape(template))
  } catch {
    return true
  }
}

/**
 * The record paths a template reads (`lead.email`, `lead.tags.0`), for catalog
 * checks. Names a template defines itself (`assign`, `for` variables) are left
 * out; a dynamic index (`a[b]`) ends the path. Liquid's `size`, `first` and
 * `last` appear as segments, so compare catalog fields as prefixes.
 */
export function templateFields(template: string): string[] {
  const segments = engine.globalVariableSegmentsSync(parseTemplate(template))
  const fields = new Set<string>()
  for (const variable of segments) {
    const path: (string | number)[] = []
    for (const segment of variable) {
      if (typeof segment !== 'string' && typeof segment !== 'number') break
      path.push(segment)
    }
    fields.add(path.join('.'))
  }
  return [...fields]
}

function asTemplateError(
  error: unknown,
  code: 'template_syntax' | 'template_render',
): TemplateError {
  const cause = (error as { originalError?: unknown }).originalError
  if (cause instanceof TemplateError) return cause
  if (error instanceof TemplateError) return error
  const message = error instanceof Error ? error.message : String(error)
  if (/limit exceeded/.test(message)) return new TemplateError('template_limit', message)
  // V8's "Invalid string length": the output outgrew what a string can hold.
  if (error instanceof RangeError)
    return new TemplateError('template_limit', 'rendered output is too large')
  if (LiquidError.is(error)) return new TemplateError(code, message)
  throw error
}
