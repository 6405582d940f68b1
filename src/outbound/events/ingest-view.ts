import { type RawBuilder, sql } from 'kysely'
import type { Db } from '../../db/database.js'
import { prepared } from '../../db/prepared.js'
import type { RuleRow } from '../../db/tables/rules.js'
import { LruCache } from '../../lru-cache.js'
import { withUsableBatchWindow } from '../rules/rule-config.js'
import type { CatalogView } from './catalog-check.js'

/** What taking events in needs to know of their workspace. */
export interface IngestView {
  webhooksEnabled: boolean
  catalog: CatalogView
  /** Each of the call's types → its enabled rules, in id order. */
  rulesByType: Map<string, RuleRow[]>
  /** `viewFingerprint` when this was read: the same later means the view still holds. */
  fingerprint: string
}

/**
 * What the view was read from: the workspace's row version (`xmin`), new
 * whenever the view could have changed, since every write to the workspace's
 * rules (but for a rule's `failing_since`) or its catalog also writes its row
 * (migrations/0048). An unrelated change to the workspace costs only a read.
 * Null when the workspace does not exist.
 */
export const viewFingerprint = (workspaceId: string): RawBuilder<string> =>
  sql<string>`(select w.xmin::text from workspaces w where w.id = ${workspaceId})`

type Row = Partial<RuleRow> & {
  ws_fingerprint: string
  ws_webhooks_enabled: boolean
  ws_catalog_defined: boolean
  ws_catalog_types: Record<string, boolean> | null
}

/**
 * The workspace's switch, what its catalog says of the call's types, and
 * the enabled rules those types trigger, in one round trip (it was one for
 * the workspace and one per type): one row per rule, the workspace's columns
 * on each, a single row of them alone when no rule matches. Undefined when
 * the workspace does not exist.
 */
export async function readIngestView(
  db: Db,
  workspaceId: string,
  types: readonly string[],
): Promise<IngestView | undefined> {
  const distinct = [...new Set(types)]
  const { rows } = await sql<Row>`${prepared('ingest_view')}
    with w as (
      select w.id, w.webhooks_enabled as ws_webhooks_enabled,
        w.xmin::text as ws_fingerprint,
        exists (select from event_types c where c.workspace_id = w.id) as ws_catalog_defined,
        (select jsonb_object_agg(c.name, c.archived) from event_types c
          where c.workspace_id = w.id and c.name = any(${distinct}::text[])) as ws_catalog_types
      from workspaces w where w.id = ${workspaceId}
    )
    select w.ws_fingerprint, w.ws_webhooks_enabled, w.ws_catalog_defined, w.ws_catalog_types, r.*
    from w left join rules r
      on r.workspace_id = w.id and r.enabled and r.event_types && ${distinct}::text[]
    order by r.id`.execute(db)
  const first = rows[0]
  if (!first) return undefined
  const rules = rows.filter((row) => row.id != null).map((row) => ruleOf(row))
  return {
    fingerprint: first.ws_fingerprint,
    webhooksEnabled: first.ws_webhooks_enabled,
    catalog: { defined: first.ws_catalog_defined, types: first.ws_catalog_types ?? {} },
    rulesByType: new Map(
      distinct.map((type) => [type, rules.filter((rule) => rule.event_types.includes(type))]),
    ),
  }
}

function ruleOf(row: Row): RuleRow {
  const {
    ws_fingerprint: _f,
    ws_webhooks_enabled: _a,
    ws_catalog_defined: _b,
    ws_catalog_types: _c,
    ...rule
  } = row
  return withUsableBatchWindow(rule as RuleRow)
}

const MAX_VIEWS = 1_000

/**
 * The views single events were last taken with, per workspace and set of
 * types, so a group of POST /v1/events calls costs one statement, not a read
 * and a write: the write checks the view's fingerprint (see
 * `viewFingerprint`) in the same statement and writes nothing when it
 * changed, and the group is taken again with a fresh read. Nothing goes
 * stale unseen, whichever process changed a rule.
 */
export class IngestViewCache extends LruCache<string, IngestView> {
  /** A workspace and a set of types, whatever their order. */
  static key(workspaceId: string, types: readonly string[]): string {
    // Ids and type names never hold a line break.
    return [workspaceId, ...[...new Set(types)].sort()].join('\n')
  }

  constructor() {
    super(MAX_VIEWS)
  }
}
