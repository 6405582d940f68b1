import { errors } from '../errors.js'

/**
 * Cursors are opaque to clients: base64url of the JSON array of the last
 * row's sort key (e.g. `[id]` or `[title, id]`). Decoding checks the shape
 * so a tampered cursor is a 400, never a 500.
 */
export function encodeCursor(key: (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

export function decodeCursor(cursor: string, arity: number): (string | number)[] {
  let key: unknown
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw errors.invalidCursor()
  }
  if (
    !Array.isArray(key) ||
    key.length !== arity ||
    !key.every((v) => typeof v === 'string' || typeof v === 'number')
  ) {
    throw errors.invalidCursor()
  }
  return key
}

/**
 * Lists fetch `limit + 1` rows; the extra row only tells whether a next page
 * exists. Returns the page and the cursor after its last row.
 */
export function toPage<T, K extends (string | number)[]>(
  rows: T[],
  limit: number,
  keyOf: (row: T) => K,
): { rows: T[]; next_cursor: string | null } {
  if (rows.length <= limit) return { rows, next_cursor: null }
  const pageRows = rows.slice(0, limit)
  return { rows: pageRows, next_cursor: encodeCursor(keyOf(pageRows[pageRows.length - 1] as T)) }
}
