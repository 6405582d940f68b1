import type { ConditionGroup, ConditionItem } from '../conditions/condition-schema.js'
import type { HandlerRow } from '../db/tables/handlers.js'
import { parseFieldPath } from '../fields/field-path.js'
import type { HandlerAction, HandlerResponse } from '../schemas/handler-parts.js'
import type { SecretBox } from '../security/secret-box.js'
import { verificationBinding } from './endpoint-token.js'
import type { InboundMappingEntry } from './mapping.js'
import type { InboundParameter } from './parameters.js'
import {
  type StoredVerification,
  verificationHeaderNames,
  verificationQueryParams,
} from './verification-schema.js'

/** A handler as the public endpoint uses it: secrets opened, derived values computed once. */
export interface LoadedHandler {
  id: string
  workspaceId: string
  active: boolean
  methods: ReadonlySet<string>
  bodyFormat: HandlerRow['body_format']
  bodyLimit: number
  parameters: InboundParameter[]
  mapping: InboundMappingEntry[]
  entityType: string
  conditions: ConditionGroup | undefined
  protectionSeconds: number
  protectionParameters: string[]
  /** With the old secrets still in a rotation's overlap. */
  verification: StoredVerification
  /** Masked in the call log besides the usual credential headers. */
  secretHeaders: string[]
  secretQuery: string[]
  response: HandlerResponse
  actions: HandlerAction[]
  /** XML element paths read as lists, one element or many: those a parameter, mapping or condition indexes. */
  xmlListPaths: ReadonlySet<string>
}

export function loadHandler(row: HandlerRow, box: SecretBox): LoadedHandler {
  const verification: StoredVerification = row.verification_sealed
    ? JSON.parse(box.open(row.verification_sealed, verificationBinding(row.id)))
    : { type: 'none' }
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    active: row.active,
    methods: new Set(row.methods),
    bodyFormat: row.body_format,
    bodyLimit: row.body_limit_bytes,
    parameters: row.parameters,
    mapping: row.mapping,
    entityType: entityTypeOf(row.entity_type, row.mapping),
    conditions: row.conditions ?? undefined,
    protectionSeconds: row.protection_seconds,
    protectionParameters: row.protection_parameters,
    verification,
    secretHeaders: verificationHeaderNames(verification),
    secretQuery: verificationQueryParams(verification),
    response: row.response,
    actions: row.actions,
    xmlListPaths: indexedPaths([
      ...row.parameters.map((parameter) => parameter.name),
      ...row.mapping.map((entry) => entry.source),
      ...row.protection_parameters,
      ...conditionFields(row.conditions ?? undefined),
    ]),
  }
}

/**
 * The entity the mapped record is: as set, else the first segment every
 * mapping target shares (`lead.email`, `lead.name` → `lead`), else `record`.
 */
export function entityTypeOf(
  entityType: string | null,
  mapping: readonly InboundMappingEntry[],
): string {
  if (entityType) return entityType
  const roots = new Set(mapping.map((entry) => entry.target.split('.')[0]))
  const [only] = roots
  return roots.size === 1 && only && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(only) ? only : 'record'
}

/**
 * The element paths an XML body must give as lists: `lead.tags.tag[0]` reads
 * the first `<tag>`, whether the body has one or many, so `lead.tags.tag` is
 * always a list (index segments are not part of an element path).
 */
export function indexedPaths(paths: Iterable<string>): ReadonlySet<string> {
  const lists = new Set<string>()
  for (const path of paths) {
    const segments = parseFieldPath(path)
    if (!segments) continue
    const names: string[] = []
    for (const segment of segments) {
      if (/^[0-9]+$/.test(segment)) {
        if (names.length > 0) lists.add(names.join('.'))
      } else names.push(segment)
    }
  }
  return lists
}

function conditionFields(group: ConditionItem | undefined): string[] {
  if (group === undefined) return []
  if ('all' in group) return group.all.flatMap(conditionFields)
  if ('any' in group) return group.any.flatMap(conditionFields)
  return [group.field]
}
