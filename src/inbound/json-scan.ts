const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a
const COMMA = 0x2c
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d

/** What `scanJson` read: keys and items counted, and the path to the first container nested too deep. */
export interface JsonScan {
  values: number
  /** Keys and indexes from the top to the first container past the depth cap; null when none is. */
  tooDeep: (string | number)[] | null
}

/**
 * How many keys and array items JSON text writes (as `checkTree` counts them
 * in the parsed tree), and whether it nests past `maxDepth`, read from the
 * text without parsing it, stopping at whichever cap it passes first.
 * JSON.parse cannot be interrupted, and one object of 90,000 keys costs it
 * 50–80 ms of CPU (a dictionary-mode object, each key interned); this scan
 * costs about 1 ms per MiB, so a body past a cap is refused before it is
 * parsed. Keys are counted as written (a repeated key counts each time).
 * Text that is not JSON gets whatever it looks like; JSON.parse refuses it
 * if it gets that far.
 */
export function scanJson(text: string, stopAfter: number, maxDepth: number): JsonScan {
  let values = 0
  // Each open container, innermost last: whether it is an array, and its
  // current item (an array's index; an object's key, as the span of its quotes).
  const arrays: boolean[] = []
  const items: number[] = []
  const keyEnds: number[] = []
  // Where the last string closed, and opened: a colon after it makes it a key.
  let stringStart = -1
  let stringEnd = -1
  for (let i = 0; i < text.length && values <= stopAfter; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      stringStart = i
      i = closingQuote(text, i)
      stringEnd = i
    } else if (c === COLON) {
      values++
      items[items.length - 1] = stringStart
      keyEnds[keyEnds.length - 1] = stringEnd
    } else if (c === COMMA) {
      if (arrays[arrays.length - 1] === true) {
        values++
        items[items.length - 1]!++
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (arrays.length >= maxDepth) {
        return { values, tooDeep: pathOf(text, arrays, items, keyEnds) }
      }
      const isArray = c === OPEN_ARRAY
      arrays.push(isArray)
      items.push(0)
      keyEnds.push(-1)
      // An array's first item, unless it is empty.
      if (isArray && text.charCodeAt(nextNonBlank(text, i + 1)) !== CLOSE_ARRAY) values++
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      arrays.pop()
      items.pop()
      keyEnds.pop()
    }
  }
  return { values, tooDeep: null }
}

function pathOf(text: string, arrays: boolean[], items: number[], keyEnds: number[]) {
  return arrays.map((isArray, level) => {
    if (isArray) return items[level]!
    const start = items[level]!
    const end = keyEnds[level]!
    if (end < 0) return ''
    try {
      return JSON.parse(text.slice(start, end + 1)) as string
    } catch {
      return text.slice(start + 1, end)
    }
  })
}

/** Where the string opened at `at` closes (the text's end when it does not). */
function closingQuote(text: string, at: number): number {
  for (let j = text.indexOf('"', at + 1); j !== -1; j = text.indexOf('"', j + 1)) {
    let k = j - 1
    while (text.charCodeAt(k) === BACKSLASH) k--
    // An even run of backslashes escapes itself, not the quote.
    if ((j - 1 - k) % 2 === 0) return j
  }
  return text.length
}

function nextNonBlank(text: string, from: number): number {
  let i = from
  for (let c = text.charCodeAt(i); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; )
    c = text.charCodeAt(++i)
  return i
}
