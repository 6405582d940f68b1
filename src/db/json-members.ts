/**
 * An object's JSON text with more members spliced in: `{"a":1}` and
 * `{ b: 2 }` give `{"a":1,"b":2}`. Cheaper than spreading both into one
 * object first, which gives V8 a new object shape for every caller.
 */
export function withMembers(json: string, extra: object | undefined): string {
  if (extra === undefined) return json
  const more = JSON.stringify(extra)
  if (more.length <= 2) return json
  return json.length <= 2 ? more : `${json.slice(0, -1)},${more.slice(1)}`
}
