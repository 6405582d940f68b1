/**
 * One raw parameter value to its declared type. Senders send everything as
 * text (forms) or as loosely typed JSON, so each type accepts the spellings
 * real senders use and turns them into one canonical form.
 */

export type ParameterType = 'string' | 'number' | 'boolean' | 'date' | 'email' | 'phone'

export type Coerced = { ok: true; value: unknown } | { ok: false; problem: string }

const ok = (value: unknown): Coerced => ({ ok: true, value })
const no = (problem: string): Coerced => ({ ok: false, problem })

export function coerceValue(type: ParameterType, value: unknown): Coerced {
  switch (type) {
    case 'string':
      return typeof value === 'string'
        ? ok(value)
        : typeof value === 'number' || typeof value === 'boolean'
          ? ok(String(value))
          : no('not text')
    case 'number':
      return toNumber(value)
    case 'boolean':
      return toBoolean(value)
    case 'date':
      return toDate(value)
    case 'email':
      return toEmail(value)
    case 'phone':
      return toPhone(value)
  }
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

function toNumber(value: unknown): Coerced {
  if (typeof value === 'number') return Number.isFinite(value) ? ok(value) : no('not a number')
  if (typeof value !== 'string' || !DECIMAL.test(value.trim())) return no('not a number')
  const number = Number(value.trim())
  return Number.isFinite(number) ? ok(number) : no('not a number')
}

const TRUE = new Set(['true', '1', 'yes', 'on'])
const FALSE = new Set(['false', '0', 'no', 'off'])

function toBoolean(value: unknown): Coerced {
  if (typeof value === 'boolean') return ok(value)
  const text =
    typeof value === 'number' || typeof value === 'string' ? String(value).trim().toLowerCase() : ''
  if (TRUE.has(text)) return ok(true)
  if (FALSE.has(text)) return ok(false)
  return no('not a boolean (send true/false, 1/0, yes/no or on/off)')
}

const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i
/** 9 to 13 digits: Unix seconds from 1973, or milliseconds; shorter runs are too ambiguous. */
const EPOCH = /^\d{9,13}$/

/**
 * ISO 8601 (date, or date and time with an optional offset; none means UTC)
 * or a Unix timestamp, to ISO 8601 in UTC. A number below 1e11 is seconds,
 * above is milliseconds: the two ranges do not meet until the year 5138.
 */
export function toDate(value: unknown): Coerced {
  const problem = 'not a date (send ISO 8601 or a Unix timestamp)'
  if (typeof value === 'number' || (typeof value === 'string' && EPOCH.test(value.trim()))) {
    const number = Number(value)
    if (!Number.isFinite(number)) return no(problem)
    const date = new Date(Math.abs(number) < 1e11 ? number * 1000 : number)
    return Number.isNaN(date.getTime()) ? no(problem) : ok(date.toISOString())
  }
  if (typeof value !== 'string') return no(problem)
  const match = ISO_DATE.exec(value.trim())
  if (!match) return no(problem)
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '', zone = 'Z'] = match
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return no(problem)
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return no(problem)
  const offset = offsetMinutes(zone)
  if (offset === null) return no(problem)
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(Number(h), Number(mi), Number(s), Number(fraction.padEnd(3, '0').slice(0, 3)))
  return ok(new Date(date.getTime() - offset * 60_000).toISOString())
}

function daysIn(year: number, month: number): number {
  const date = new Date(0)
  date.setUTCFullYear(year, month, 0)
  return date.getUTCDate()
}

function offsetMinutes(zone: string): number | null {
  if (zone.toUpperCase() === 'Z') return 0
  const digits = zone.slice(1).replace(':', '')
  const hours = Number(digits.slice(0, 2))
  const minutes = Number(digits.slice(2) || '0')
  if (hours > 23 || minutes > 59) return null
  return (zone[0] === '-' ? -1 : 1) * (hours * 60 + minutes)
}

// Pragmatic, not RFC 5322: one @, no spaces or specials, a dotted domain.
const EMAIL = /^[^\s@"(),:;<>[\]\\]+@[^\s@"(),:;<>[\]\\.]+(?:\.[^\s@"(),:;<>[\]\\.]+)+$/

function toEmail(value: unknown): Coerced {
  if (typeof value !== 'string') return no('not an email address')
  const email = value.trim().toLowerCase()
  return email.length <= 254 && EMAIL.test(email) ? ok(email) : no('not an email address')
}

const PHONE = /^\+?[\d\s().\-/]+$/

/** Digits with a leading + when the sender gave one: `+1 (555) 010-9999` → `+15550109999`. */
function toPhone(value: unknown): Coerced {
  const text =
    typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? String(value) : value
  if (typeof text !== 'string' || !PHONE.test(text.trim())) return no('not a phone number')
  const trimmed = text.trim()
  const digits = trimmed.replace(/\D/g, '')
  // E.164 allows at most 15 digits; fewer than 4 is no one's phone number.
  if (digits.length < 4 || digits.length > 15) return no('not a phone number')
  return ok(`${trimmed.startsWith('+') ? '+' : ''}${digits}`)
}
