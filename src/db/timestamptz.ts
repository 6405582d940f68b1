/**
 * PostgreSQL's text form of a timestamptz, `2026-12-05 08:10:11.123456+00`
 * (ISO DateStyle, the default), read without regular expressions. pg's own
 * parser (postgres-date) matches three of them per value and allocates their
 * match arrays; a worker reads several timestamps for every delivery it
 * claims, which made it about 1 % of the sender's CPU and 2 KB of garbage per
 * delivery. Anything else (another DateStyle, `infinity`, BC, years before
 * 1000 or after 9999, a zone offset in seconds) goes to `parseDate`, pg's own,
 * so the result is the same Date for every input.
 */
export function parseTimestamptz(text: string, parseDate: (text: string) => unknown): unknown {
  const n = text.length
  // `YYYY-MM-DD HH:MM:SS` then an optional fraction, then `+HH` or `+HH:MM`.
  if (n < 22 || text.charCodeAt(4) !== 45 || text.charCodeAt(10) !== 32) return parseDate(text)
  const year = digits(text, 0, 4)
  const month = digits(text, 5, 2)
  const day = digits(text, 8, 2)
  const hour = digits(text, 11, 2)
  const minute = digits(text, 14, 2)
  const second = digits(text, 17, 2)
  if (
    year < 1000 ||
    month < 0 ||
    day < 0 ||
    hour < 0 ||
    minute < 0 ||
    second < 0 ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58
  ) {
    return parseDate(text)
  }
  let at = 19
  let ms = 0
  if (text.charCodeAt(at) === 46) {
    // Milliseconds are the first three digits of the fraction (Date keeps no finer).
    let scale = 100
    at++
    while (at < n) {
      const d = text.charCodeAt(at) - 48
      if (d < 0 || d > 9) break
      ms += d * scale
      scale /= 10
      at++
    }
    ms = Math.floor(ms)
  }
  const sign = text.charCodeAt(at)
  if (sign !== 43 && sign !== 45) return parseDate(text)
  const offsetHours = digits(text, at + 1, 2)
  let offsetMinutes = 0
  if (at + 3 === n) {
    // `+HH`
  } else if (at + 6 === n && text.charCodeAt(at + 3) === 58) {
    offsetMinutes = digits(text, at + 4, 2)
  } else {
    return parseDate(text)
  }
  if (offsetHours < 0 || offsetMinutes < 0) return parseDate(text)
  const offsetMs = (sign === 43 ? 1 : -1) * (offsetHours * 60 + offsetMinutes) * 60_000
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMs)
}

/** The number written by `count` ASCII digits at `from`, or -1 if one is not a digit. */
function digits(text: string, from: number, count: number): number {
  let value = 0
  for (let i = from; i < from + count; i++) {
    const d = text.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    value = value * 10 + d
  }
  return value
}
