/**
 * A one-dimensional PostgreSQL array literal of these elements, for a
 * parameter cast to an array type (`${arrayLiteral(ids)}::text[]`): text
 * quoted with only `"` and `\` escaped, numbers and booleans as they print,
 * null and undefined as NULL. What node-postgres makes of a JavaScript
 * array, without its two replace passes over every text: for the 15 columns
 * of a batch's deliveries, 0.7 against 1.9 µs of the API's CPU per row.
 */
export function arrayLiteral(values: readonly (string | number | boolean | null | undefined)[]) {
  let text = '{'
  for (let n = 0; n < values.length; n++) {
    const value = values[n]
    if (n > 0) text += ','
    if (value == null) text += 'NULL'
    else if (typeof value === 'string')
      text += NEEDS_ESCAPE.test(value) ? `"${value.replace(ESCAPED, '\\$&')}"` : `"${value}"`
    else text += String(value)
  }
  return `${text}}`
}

// Testing first: most texts (ids, types) have nothing to escape.
const NEEDS_ESCAPE = /["\\]/
const ESCAPED = /["\\]/g
