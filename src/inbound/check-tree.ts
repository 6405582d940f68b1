import { isDangerousKey, MAX_DEPTH, showKey } from './limits.js'

/**
 * Why a parsed tree is refused (a reserved key, or nesting beyond the cap), or
 * null when it is fine. Iterative, so a hostile tree cannot exhaust the stack.
 */
export function checkTree(root: unknown, label: string): string | null {
  const stack: { value: unknown; depth: number; path: string }[] = [
    { value: root, depth: 0, path: '' },
  ]
  while (stack.length > 0) {
    const { value, depth, path } = stack.pop()!
    if (typeof value !== 'object' || value === null) continue
    if (depth >= MAX_DEPTH) return `${label}: nested deeper than ${MAX_DEPTH} levels`
    const keys = Array.isArray(value) ? value.keys() : Object.keys(value)
    for (const key of keys) {
      const name = String(key)
      const childPath = path === '' ? name : `${path}.${name}`
      if (typeof key === 'string' && isDangerousKey(key)) {
        return `${label}: the key ${showKey(key)} is not allowed${path === '' ? '' : ` (in ${showKey(path)})`}`
      }
      stack.push({
        value: (value as Record<string, unknown>)[name],
        depth: depth + 1,
        path: childPath,
      })
    }
  }
  return null
}
