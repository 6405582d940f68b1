import { errors } from '../../errors.js'

/** What the catalog says of the event types in one call. */
export interface CatalogView {
  /** The workspace has defined at least one event type, archived or not. */
  defined: boolean
  /** The call's types that are in the catalog: name → archived. */
  types: Record<string, boolean>
}

// A batch of 1,000 events with one typo names the first indexes, not all of them.
const INDEXES_NAMED = 10

/**
 * Refuses a call that names an event type its workspace's catalog does not
 * offer, so a typo (`lead.craeted`) is told to the sender instead of matching
 * nothing. Without a catalog every type is taken. A batch is refused whole,
 * naming each bad type with the indexes that sent it.
 */
export function refuseUncataloguedTypes(
  types: string[],
  catalog: CatalogView,
  batch: boolean,
): void {
  if (!catalog.defined) return
  const bad = new Map<string, number[]>()
  for (const [index, type] of types.entries()) {
    if (catalog.types[type] === false) continue
    const indexes = bad.get(type) ?? []
    indexes.push(index)
    bad.set(type, indexes)
  }
  if (bad.size === 0) return
  const problems = [...bad].map(([type, indexes]) => {
    const problem =
      catalog.types[type] === true
        ? `event type "${type}" is archived`
        : `unknown event type "${type}"`
    if (!batch) return `type: ${problem}`
    const named = indexes.slice(0, INDEXES_NAMED).map((i) => `events/${i}/type`)
    const more = indexes.length > INDEXES_NAMED ? ` and ${indexes.length - INDEXES_NAMED} more` : ''
    return `${problem} at ${named.join(', ')}${more}`
  })
  throw errors.validation(
    `${problems.join('; ')} (the workspace's event catalog, GET /v1/event-types, lists the types it takes)`,
  )
}
