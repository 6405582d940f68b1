import { type Expression, type ExpressionBuilder, type RawBuilder, type SqlBool, sql } from 'kysely'
import type { Database, Db } from '../../db/database.js'
import type { NewRuleRow, RuleRow, RuleUpdate } from '../../db/tables/rules.js'

export async function insertRule(db: Db, row: NewRuleRow): Promise<RuleRow> {
  return db.insertInto('rules').values(row).returningAll().executeTakeFirstOrThrow()
}

export async function findRule(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<RuleRow | undefined> {
  return db
    .selectFrom('rules')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst()
}

export async function updateRule(
  db: Db,
  workspaceId: string,
  id: string,
  patch: RuleUpdate,
): Promise<RuleRow | undefined> {
  return db
    .updateTable('rules')
    .set({ ...patch, updated_at: new Date() })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst()
}

export async function deleteRule(db: Db, workspaceId: string, id: string): Promise<void> {
  await db
    .deleteFrom('rules')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .execute()
}

export type RuleSortKey = 'created' | 'title' | 'enabled' | 'trigger' | 'url'

// Each sort key as an SQL expression; lists page on (expression, id).
const sortExpressions: Record<RuleSortKey, RawBuilder<string | number>> = {
  created: sql`id`,
  title: sql`lower(title)`,
  enabled: sql`enabled::int`,
  trigger: sql`coalesce(event_types[1], '')`,
  url: sql`request->>'url'`,
}

export interface RuleListFilter {
  q?: string
  enabled?: boolean
  eventType?: string
}

export async function listRules(
  db: Db,
  workspaceId: string,
  options: {
    limit: number
    sort: RuleSortKey
    descending: boolean
    after?: [string | number, string]
    filter: RuleListFilter
  },
): Promise<(RuleRow & { sort_value: string | number })[]> {
  const expr = sortExpressions[options.sort]
  const dir = options.descending ? sql`desc` : sql`asc`
  let query = db
    .selectFrom('rules')
    .selectAll()
    .select(expr.as('sort_value'))
    .where('workspace_id', '=', workspaceId)
    .where(ruleFilter(options.filter))
    .orderBy(sql`${expr} ${dir}, id ${dir}`)
    .limit(options.limit)
  if (options.after) {
    const [value, id] = options.after
    query = options.descending
      ? query.where(sql<boolean>`(${expr}, id) < (${value}, ${id})`)
      : query.where(sql<boolean>`(${expr}, id) > (${value}, ${id})`)
  }
  return query.execute() as Promise<(RuleRow & { sort_value: string | number })[]>
}

/** The list filters as one WHERE expression (also used by the CSV export). */
export function ruleFilter(filter: RuleListFilter) {
  return (eb: ExpressionBuilder<Database, 'rules'>) => {
    const tests: Expression<SqlBool>[] = []
    if (filter.enabled !== undefined) tests.push(eb('enabled', '=', filter.enabled))
    if (filter.eventType) {
      tests.push(eb('event_types', '@>', sql<string[]>`array[${filter.eventType}]::text[]`))
    }
    if (filter.q) {
      const like = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
      tests.push(
        eb.or([
          eb('title', 'ilike', like),
          eb('description', 'ilike', like),
          eb(sql<string>`request->>'url'`, 'ilike', like),
        ]),
      )
    }
    return eb.and(tests)
  }
}

export async function listReferences(db: Db, ruleIds: string[]) {
  if (ruleIds.length === 0) return []
  return db
    .selectFrom('rule_references')
    .select(['rule_id', 'reference', 'name'])
    .where('rule_id', 'in', ruleIds)
    .orderBy('created_at')
    .orderBy('reference')
    .execute()
}

/** Inbound handlers whose fulfillment actions run the rule (they would skip it once it is gone). */
export async function handlersRunningRule(db: Db, workspaceId: string, ruleId: string) {
  return db
    .selectFrom('handlers')
    .select(['id', 'title'])
    .where('workspace_id', '=', workspaceId)
    .where(sql<boolean>`actions @> ${JSON.stringify([{ rule_id: ruleId }])}::jsonb`)
    .orderBy('id')
    .execute()
}

export async function replaceReferences(
  db: Db,
  workspaceId: string,
  ruleId: string,
  references: { reference: string; name: string }[],
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('rule_references').where('rule_id', '=', ruleId).execute()
    if (references.length > 0) {
      await trx
        .insertInto('rule_references')
        .values(references.map((r) => ({ workspace_id: workspaceId, rule_id: ruleId, ...r })))
        .onConflict((oc) => oc.columns(['rule_id', 'reference']).doNothing())
        .execute()
    }
  })
}
