import { hash } from 'node:crypto'
import { parseFieldPath, readSegments } from '../fields/field-path.js'
import { canonicalJson } from '../formats/canonical-json.js'
import { onceEach } from './once-each.js'

/**
 * What makes two calls to a handler "the same" within its protection period:
 * the sha256 of the chosen parameters (default: all) as canonical JSON, keys
 * sorted at every level, so key order and whitespace in the body do not
 * matter. The chosen paths are sorted too, so their order in the config does
 * not either; an absent parameter and a null one count as the same. An
 * empty choice means all: a key over nothing would make every call a
 * duplicate of the first.
 */
export function dedupeKey(
  params: Record<string, unknown>,
  chosenParams?: readonly string[],
): string {
  if (!chosenParams || chosenParams.length === 0)
    return hash('sha256', canonicalJson(params), 'hex')
  // The chosen paths' own object, as canonicalJson would write it: keys sorted, one each.
  let text = '{'
  for (const { key, segments } of compiledChoice(chosenParams)) {
    const value = segments ? readSegments(params, segments) : undefined
    text += `${text.length > 1 ? ',' : ''}${key}:${canonicalJson(value ?? null)}`
  }
  return hash('sha256', `${text}}`, 'hex')
}

// A handler's choice, sorted, deduplicated and parsed.
const compiledChoice = onceEach((chosenParams: readonly string[]) =>
  [...new Set(chosenParams)]
    .sort()
    .map((path) => ({ key: JSON.stringify(path), segments: parseFieldPath(path) })),
)
