// `fatal` makes overlong forms, lone surrogates and truncated sequences an
// error instead of a silent U+FFFD; a leading BOM is dropped.
const decoder = new TextDecoder('utf-8', { fatal: true })

/** The text of `bytes`, or null when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return decoder.decode(bytes)
  } catch {
    return null
  }
}
