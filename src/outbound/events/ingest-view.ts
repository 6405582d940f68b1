import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import { prepared } from '../../db/prepared.js'
import type { RuleRow } from '../../db/tables/rules.js'
import { withUsableBatchWindow } from '../rules/rule-config.js'
import type { CatalogView } from './catalog-check.js'

/** What taking events in needs to know of their workspace. */
export interface IngestView {
  webhooksEnabled: boolean
  catalog: CatalogView
  /** Each of the call's types → its enabled rules, in id order. */
  rulesByType: Map<string, RuleRow[]>
}

type Row = Partial<RuleRow> & {
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
        exists (select from event_types c where c.workspace_id = w.id) as ws_catalog_defined,
        (select jsonb_object_agg(c.name, c.archived) from event_types c
          where c.workspace_id = w.id and c.name = any(${distinct}::text[])) as ws_catalog_types
      from workspaces w where w.id = ${workspaceId}
    )
    select w.ws_webhooks_enabled, w.ws_catalog_defined, w.ws_catalog_types, r.*
    from w left join rules r
      on r.workspace_id = w.id and r.enabled and r.event_types && ${distinct}::text[]
    order by r.id`.execute(db)
  const first = rows[0]
  if (!first) return undefined
  const rules = rows.filter((row) => row.id != null).map((row) => ruleOf(row))
  return {
    webhooksEnabled: first.ws_webhooks_enabled,
    catalog: { defined: first.ws_catalog_defined, types: first.ws_catalog_types ?? {} },
    rulesByType: new Map(
      distinct.map((type) => [type, rules.filter((rule) => rule.event_types.includes(type))]),
    ),
  }
}

function ruleOf(row: Row): RuleRow {
  const { ws_webhooks_enabled: _a, ws_catalog_defined: _b, ws_catalog_types: _c, ...rule } = row
  return withUsableBatchWindow(rule as RuleRow)
}
