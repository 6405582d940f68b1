/**
 * How condition tests compare values. CRM users type operands into a form and
 * expect "qualified" to equal "Qualified " and 5 to equal "5", so text
 * comparisons ignore case and surrounding spaces, and a number compares as a
 * number with any text that spells one.
 */

/** Lower-cased, trimmed, NFC-normalised text of a value; missing values are ''. */
export function foldText(value: unknown): string {
  return textOf(value).trim().normalize('NFC').toLowerCase()
}

function textOf(value: unknown): string {
  if (value === undefined || value === null) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'object') return JSON.stringify(value) ?? ''
  return String(value)
}

// Decimal notation only: `Number()` would also read '0x1f', '' and ' ' as numbers.
const DECIMAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/

export function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value !== 'string') return undefined
  const text = value.trim()
  if (!DECIMAL.test(text)) return undefined
  const number = Number(text)
  return Number.isFinite(number) ? number : undefined
}

const ISO_DATE =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$/i

/**
 * Milliseconds since the epoch of an ISO 8601 date or date-time. A date-time
 * without an offset is read as UTC (JavaScript would read it as the server's
 * local time, making results depend on where the service runs).
 */
export function asIsoDate(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined
  const m = ISO_DATE.exec(value.trim())
  if (!m) return undefined
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m
  // Date.parse would roll 2024-02-31 over to March 2: a date that moves is no date.
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)))
  if (day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) return undefined
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : zone.replace(/^([+-][0-9]{2}):?/, '$1:')
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac.slice(0, 4)}${offset}`)
  return Number.isNaN(ms) ? undefined : ms
}

/**
 * Loose equality: numerically when either side is a number and the other
 * spells one, else by folded text. Text on both sides stays text, so zip
 * codes like "01234" and "1234" stay different.
 */
export function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') {
    const x = asNumber(a)
    const y = asNumber(b)
    if (x !== undefined && y !== undefined) return x === y
  }
  return foldText(a) === foldText(b)
}

/** Like `same`, element by element for arrays: used to tell whether a field changed. */
export function sameDeep(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => sameDeep(item, b[i]))
  }
  return same(a, b)
}

export function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) return true
  if (typeof value === 'string') return value.trim() === ''
  if (Array.isArray(value)) return value.length === 0
  if (typeof value === 'object') return Object.keys(value).length === 0
  return false
}

/** An array field contains a value when an element equals it; text contains a substring. */
export function contains(field: unknown, value: unknown): boolean {
  if (Array.isArray(field)) return field.some((item) => same(item, value))
  return foldText(field).includes(foldText(value))
}

export function startsWith(field: unknown, value: unknown): boolean {
  return foldText(field).startsWith(foldText(value))
}

export function endsWith(field: unknown, value: unknown): boolean {
  return foldText(field).endsWith(foldText(value))
}

/** For an array field, true when any element is in the list. */
export function isIn(field: unknown, list: unknown): boolean {
  const candidates = Array.isArray(list) ? list : [list]
  const values = Array.isArray(field) ? field : [field]
  return values.some((item) => candidates.some((candidate) => same(item, candidate)))
}

/**
 * Orders two values as numbers, else as ISO dates; undefined when they are
 * neither, so both `greater_than` and `less_than` are false for "abc" vs 3.
 */
export function order(a: unknown, b: unknown): number | undefined {
  const x = asNumber(a)
  const y = asNumber(b)
  if (x !== undefined && y !== undefined) return Math.sign(x - y)
  const s = asIsoDate(a)
  const t = asIsoDate(b)
  if (s !== undefined && t !== undefined) return Math.sign(s - t)
  return undefined
}
