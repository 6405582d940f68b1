import { readField } from '../fields/field-path.js'
import { contains, endsWith, isEmpty, isIn, order, same, sameDeep, startsWith } from './compare.js'
import type { ConditionGroup, ConditionItem, ConditionTest } from './condition-schema.js'

export interface ConditionInput {
  /** The record as the event carries it, e.g. `{ lead: { status: 'Qualified' } }`. */
  fields: Record<string, unknown>
  /** The record before the change, for `changed` tests; absent for creations. */
  previous?: Record<string, unknown> | undefined
}

/**
 * Whether a record matches a condition. No condition matches everything.
 * Total over malformed trees (a missing value compares as empty), because
 * `validateCondition` is where authors hear about mistakes, not delivery.
 */
export function evaluate(condition: ConditionGroup | undefined, input: ConditionInput): boolean {
  return condition === undefined || matchItem(condition, input)
}

export function isGroup(item: ConditionItem): item is ConditionGroup {
  return 'all' in item || 'any' in item
}

function matchItem(item: ConditionItem, input: ConditionInput): boolean {
  if (!isGroup(item)) return matchTest(item, input)
  if ('all' in item) return item.all.every((child) => matchItem(child, input))
  return item.any.some((child) => matchItem(child, input))
}

function matchTest(test: ConditionTest, input: ConditionInput): boolean {
  const field = readField(input.fields, test.field)
  const { value } = test
  switch (test.op) {
    case 'equals':
      return same(field, value)
    case 'not_equals':
      return !same(field, value)
    case 'contains':
      return contains(field, value)
    case 'not_contains':
      return !contains(field, value)
    case 'starts_with':
      return startsWith(field, value)
    case 'ends_with':
      return endsWith(field, value)
    case 'is_empty':
      return isEmpty(field)
    case 'is_not_empty':
      return !isEmpty(field)
    case 'greater_than':
      return order(field, value) === 1
    case 'less_than':
      return order(field, value) === -1
    case 'in':
      return isIn(field, value)
    case 'not_in':
      return !isIn(field, value)
    case 'changed':
      return changed(test, input)
    case 'changed_from_to':
      return (
        changed(test, input) &&
        same(readField(input.previous, test.field), test.from) &&
        same(field, test.to)
      )
  }
}

/**
 * Without a previous version (a creation) nothing has changed: firing "status
 * changed" on every new lead would surprise the users who set it.
 */
function changed(test: ConditionTest, input: ConditionInput): boolean {
  if (input.previous === undefined) return false
  return !sameDeep(readField(input.fields, test.field), readField(input.previous, test.field))
}
