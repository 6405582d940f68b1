import { LOOKS_LIKE_CREDENTIAL } from './credential-names.js'

/** Values that are Hookline secrets whatever the parameter is called: API keys, signing secrets, inbound tokens. */
const LOOKS_LIKE_OUR_SECRET = /(?:^|[^A-Za-z0-9])(?:hl|whsec|hli)_/

/**
 * The URL with the values of secret-looking query parameters replaced by
 * `censor`: a name that looks like a credential (`names`), or a value that
 * holds one of Hookline's own secrets under any name. Everything else is kept
 * byte for byte (no re-encoding), so the URL still reads as sent.
 */
export function redactQuery(
  url: string,
  censor: string,
  names: RegExp = LOOKS_LIKE_CREDENTIAL,
): string {
  const question = url.indexOf('?')
  if (question < 0) return url
  const hash = url.indexOf('#', question)
  const end = hash < 0 ? url.length : hash
  const pairs = url.slice(question + 1, end).split('&')
  let changed = false
  for (const [i, pair] of pairs.entries()) {
    const equals = pair.indexOf('=')
    const name = decode(equals < 0 ? pair : pair.slice(0, equals))
    const value = equals < 0 ? '' : decode(pair.slice(equals + 1))
    if (names.test(name) && equals >= 0) {
      pairs[i] = `${pair.slice(0, equals + 1)}${censor}`
    } else if (LOOKS_LIKE_OUR_SECRET.test(value)) {
      pairs[i] = `${pair.slice(0, equals + 1)}${censor}`
    } else if (LOOKS_LIKE_OUR_SECRET.test(name)) {
      // `?hl_…` with no `=`: the key is the whole parameter.
      pairs[i] = censor
    } else continue
    changed = true
  }
  return changed ? `${url.slice(0, question + 1)}${pairs.join('&')}${url.slice(end)}` : url
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '))
  } catch {
    return text
  }
}
