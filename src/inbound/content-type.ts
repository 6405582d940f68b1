/**
 * `type/subtype; name=value; name="quoted value"` as sent in Content-Type and
 * (for multipart parts) Content-Disposition. The value and parameter names are
 * lowercased; quoted values are unescaped. Pieces that are not `name=value`
 * are skipped: a stray `;` from a sloppy sender should not cost the call.
 */
export interface HeaderValue {
  value: string
  params: Record<string, string>
}

const PARAM = /\s*([^\s=;"]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;"]*))\s*(?:;|$)/y
const JUNK = /[^;]*(?:;|$)/y

export function parseHeaderValue(header: string): HeaderValue {
  const semicolon = header.indexOf(';')
  const value = (semicolon < 0 ? header : header.slice(0, semicolon)).trim().toLowerCase()
  // No prototype, so a parameter named `__proto__` or `constructor` is only data.
  const params: Record<string, string> = Object.create(null)
  if (semicolon < 0) return { value, params }
  const rest = header.slice(semicolon + 1)
  let at = 0
  while (at < rest.length) {
    PARAM.lastIndex = at
    const match = PARAM.exec(rest)
    if (match) {
      const quoted = match[2]
      const name = match[1]!.toLowerCase()
      // The first occurrence wins, as a duplicate is more likely an attack than a correction.
      if (!(name in params)) {
        params[name] = quoted === undefined ? match[3]!.trim() : quoted.replace(/\\(.)/g, '$1')
      }
      at = PARAM.lastIndex
    } else {
      JUNK.lastIndex = at
      JUNK.exec(rest)
      at = JUNK.lastIndex > at ? JUNK.lastIndex : rest.length
    }
  }
  return { value, params }
}

/** True when `charset` is absent or names UTF-8 (of which ASCII is a subset). */
export function isUtf8Charset(charset: string | undefined): boolean {
  return charset === undefined || /^(?:utf-?8|us-ascii)$/i.test(charset.trim())
}
