import { parseFieldPath } from '../fields/field-path.js'
import { asIsoDate, asNumber, same } from './compare.js'
import type {
  ConditionGroup,
  ConditionItem,
  ConditionOperator,
  ConditionTest,
} from './condition-schema.js'

export const MAX_CONDITION_DEPTH = 5
export const MAX_CONDITION_TESTS = 100

type ValueRule = 'scalar' | 'text' | 'ordered' | 'list' | 'none' | 'from-to'

const VALUE_RULES: Record<ConditionOperator, ValueRule> = {
  equals: 'scalar',
  not_equals: 'scalar',
  contains: 'text',
  not_contains: 'text',
  starts_with: 'text',
  ends_with: 'text',
  greater_than: 'ordered',
  less_than: 'ordered',
  in: 'list',
  not_in: 'list',
  is_empty: 'none',
  is_not_empty: 'none',
  changed: 'none',
  changed_from_to: 'from-to',
}

/**
 * What a JSON Schema cannot say about a condition tree, as messages naming
 * the place: `conditions.all[2].value: 'in' needs an array`. Empty when fine.
 * Run after the schema has checked the shape.
 */
export function validateCondition(tree: ConditionGroup, path = 'conditions'): string[] {
  const errors: string[] = []
  let tests = 0
  const visit = (item: ConditionItem, at: string, depth: number): void => {
    if (!('all' in item || 'any' in item)) {
      tests++
      errors.push(...testErrors(item, at))
      return
    }
    if (depth > MAX_CONDITION_DEPTH) {
      errors.push(`${at}: groups nest at most ${MAX_CONDITION_DEPTH} deep`)
      return
    }
    const [key, items] = 'all' in item ? ['all', item.all] : ['any', item.any]
    for (const [i, child] of items.entries()) visit(child, `${at}.${key}[${i}]`, depth + 1)
  }
  visit(tree, path, 1)
  if (tests > MAX_CONDITION_TESTS) {
    errors.push(`${path}: at most ${MAX_CONDITION_TESTS} tests, found ${tests}`)
  }
  return errors
}

function testErrors(test: ConditionTest, at: string): string[] {
  const errors: string[] = []
  if (parseFieldPath(test.field) === null) {
    errors.push(`${at}.field: '${test.field}' is not a field path like 'lead.status'`)
  }
  const rule = VALUE_RULES[test.op]
  if (rule === undefined) return [...errors, `${at}.op: unknown operator '${test.op}'`]
  const op = `'${test.op}'`
  const { value } = test
  if (rule !== 'from-to' && (test.from !== undefined || test.to !== undefined)) {
    errors.push(`${at}: only 'changed_from_to' takes from and to`)
  }
  switch (rule) {
    case 'none':
      if (value !== undefined) errors.push(`${at}.value: ${op} takes no value`)
      break
    case 'list':
      if (!Array.isArray(value)) errors.push(`${at}.value: ${op} needs an array`)
      else if (value.length === 0) errors.push(`${at}.value: ${op} needs at least one value`)
      break
    case 'from-to':
      if (value !== undefined) errors.push(`${at}.value: ${op} takes from and to, not value`)
      if (test.from === undefined) errors.push(`${at}.from: ${op} needs from`)
      if (test.to === undefined) errors.push(`${at}.to: ${op} needs to`)
      if (test.from !== undefined && test.to !== undefined && same(test.from, test.to)) {
        errors.push(`${at}: from and to are equal, so it never matches`)
      }
      break
    default:
      errors.push(...singleValueErrors(rule, value, `${at}.value`, op))
  }
  return errors
}

function singleValueErrors(rule: ValueRule, value: unknown, at: string, op: string): string[] {
  if (value === undefined) return [`${at}: ${op} needs a value`]
  if (Array.isArray(value)) return [`${at}: ${op} needs one value, not an array (use 'in')`]
  if (rule === 'text' && (value === null || String(value).trim() === '')) {
    return [`${at}: ${op} needs a non-empty value`]
  }
  if (rule === 'ordered' && asNumber(value) === undefined && asIsoDate(value) === undefined) {
    return [`${at}: ${op} needs a number or an ISO date (2024-05-31)`]
  }
  return []
}

/** Every field the tree names, once each, in order of appearance: for catalog checks. */
export function conditionFields(tree: ConditionGroup): string[] {
  const fields = new Set<string>()
  const visit = (item: ConditionItem): void => {
    if ('all' in item) item.all.forEach(visit)
    else if ('any' in item) item.any.forEach(visit)
    else fields.add(item.field)
  }
  visit(tree)
  return [...fields]
}
