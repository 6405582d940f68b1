import { marker, type SlottedRender } from './liquid-engine.js'
import { TemplateError } from './template-error.js'

// What becomes of a slotted render (see liquid-engine.ts): walked, filled, and bounded in size.

/** The most a rendered URL, header or body may hold. */
export const MAX_OUTPUT_BYTES = 1024 * 1024

/**
 * Collects rendered text and stops as soon as it passes the limit, so a loop
 * that repeats a large field fails early instead of building megabytes first.
 * Code units are counted while collecting (never more than UTF-8 bytes), bytes
 * once at the end.
 */
export class OutputBuffer {
  readonly #parts: string[] = []
  #units = 0

  push(text: string): void {
    this.#units += text.length
    if (this.#units > MAX_OUTPUT_BYTES) throw outputTooLarge()
    this.#parts.push(text)
  }

  toString(): string {
    const text = this.#parts.join('')
    if (Buffer.byteLength(text) > MAX_OUTPUT_BYTES) throw outputTooLarge()
    return text
  }
}

/** A render with each value replaced by `encode(value)`: for formats where the place does not matter. */
export function fillWith(rendered: SlottedRender, encode: (value: unknown) => string): string {
  const out = new OutputBuffer()
  eachPart(
    rendered,
    (text) => out.push(text),
    (value) => out.push(encode(value)),
  )
  return out.toString()
}

export function outputTooLarge(): TemplateError {
  return new TemplateError(
    'template_limit',
    `rendered output is larger than ${MAX_OUTPUT_BYTES} bytes`,
  )
}

/** Walks a render in order: each run of template text to `onText`, each value to `onValue`. */
export function eachPart(
  rendered: SlottedRender,
  onText: (text: string) => void,
  onValue: (value: unknown) => void,
): void {
  const { text, values } = rendered
  let start = 0
  for (let at = text.indexOf('\0'); at !== -1; at = text.indexOf('\0', start)) {
    if (at > start) onText(text.slice(start, at))
    const end = text.indexOf('\0', at + 1)
    onValue(values[Number(text.slice(at + 1, end))])
    start = end + 1
  }
  if (start < text.length) onText(text.slice(start))
}

/** The value when the render is exactly one `{{ }}` and nothing else, else undefined. */
export function soleValue(rendered: SlottedRender): { value: unknown } | undefined {
  return rendered.values.length === 1 && rendered.text === marker(0)
    ? { value: rendered.values[0] }
    : undefined
}
