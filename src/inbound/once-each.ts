/**
 * `make(key)` once per key object, kept while the key lives. For what a
 * call derives from its loaded handler's arrays (mapping, parameters, the
 * dedupe key's paths): a handler's arrays are never changed in place, so
 * what is derived from one holds for its life, and is not worked out again
 * on every call.
 */
export function onceEach<K extends object, V>(make: (key: K) => V): (key: K) => V {
  const made = new WeakMap<K, V>()
  return (key) => {
    let value = made.get(key)
    if (value === undefined) {
      value = make(key)
      made.set(key, value)
    }
    return value
  }
}
