import { errors } from '../../errors.js'
import { newId } from '../../ids.js'
import type { RecordInput } from '../../schemas/rule-actions.js'
import { activeSigningSecrets } from '../../settings/signing-secrets.js'
import { getDelivery } from '../deliveries/delivery-service.js'
import { scheduleDeliveries } from '../deliveries/schedule.js'
import { type DeliveryRecord, redactRequest, signOutbound } from '../send/build-request.js'
import { runAttempt } from '../send/deliver.js'
import type { DeliveryEngine } from '../send/engine.js'
import { mapResponse, parseResponseBody } from '../send/parse-response.js'
import { renderRequest } from '../send/render-request.js'
import { getRuleRow, type RuleContext, ruleCredentials } from './rule-service.js'

export function manualRecord(record: RecordInput, eventType: string | null = null): DeliveryRecord {
  return {
    entity_type: record.entity_type,
    entity_id: record.entity_id,
    fields: record.fields as Record<string, unknown>,
    event: { id: null, type: eventType, occurred_at: new Date().toISOString() },
  }
}

async function render(
  ctx: RuleContext,
  rule: Awaited<ReturnType<typeof getRuleRow>>,
  record: DeliveryRecord,
) {
  const credentials = ruleCredentials(ctx.box, rule)
  try {
    return { credentials, request: await renderRequest(rule, record, credentials) }
  } catch (err) {
    throw errors.validation(`the rule does not render for this record: ${(err as Error).message}`)
  }
}

/**
 * The record a preview or test renders: the caller's, else the sample of the
 * first of the rule's event types (in the rule's order) that has one, as an
 * event of that type would bring it.
 */
async function recordFor(
  ctx: RuleContext,
  rule: Awaited<ReturnType<typeof getRuleRow>>,
  record: RecordInput | undefined,
): Promise<DeliveryRecord> {
  if (record) return manualRecord(record)
  const types = rule.event_types
  if (types.length === 0) {
    throw errors.validation(
      'body/record: required, since the rule has no event types to take a sample from',
    )
  }
  const rows = await ctx.db
    .selectFrom('event_types')
    .select(['name', 'sample'])
    .where('workspace_id', '=', ctx.workspaceId)
    .where('name', 'in', types)
    .where('sample', 'is not', null)
    .execute()
  const samples = new Map(rows.map((row) => [row.name, row.sample]))
  const name = types.find((type) => isObject(samples.get(type)))
  if (name === undefined) {
    throw errors.validation(
      `body/record: required, since none of the rule's event types (${types.join(', ')}) has a sample`,
    )
  }
  const fields = samples.get(name) as Record<string, unknown>
  return manualRecord(sampleRecord(name, fields), name)
}

/**
 * `lead.created` with `{ lead: { id: 'L-1' } }` is lead L-1: the entity is
 * the sample's one top-level object, else the event type's first segment;
 * its id is that object's `id`, else `sample`.
 */
export function sampleRecord(eventType: string, fields: Record<string, unknown>): RecordInput {
  const keys = Object.keys(fields)
  const only = keys.length === 1 && isObject(fields[keys[0] as string]) ? keys[0] : undefined
  const entityType = only ?? eventType.split('.')[0] ?? 'record'
  const entity = fields[entityType]
  const id = isObject(entity) ? entity.id : undefined
  const entityId = typeof id === 'string' || typeof id === 'number' ? String(id) : 'sample'
  return { entity_type: entityType, entity_id: entityId, fields }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** The request the rule would send for this record, signed, credentials masked; nothing is sent. */
export async function previewRule(
  ctx: RuleContext,
  ruleId: string,
  record: RecordInput | undefined,
  limit: number,
) {
  const rule = await getRuleRow(ctx, ruleId)
  const { credentials, request } = await render(ctx, rule, await recordFor(ctx, rule, record))
  const secrets = await activeSigningSecrets(ctx.db, ctx.box, ctx.workspaceId)
  return {
    request: redactRequest(signOutbound(request, 'msg_preview', secrets), credentials, limit),
  }
}

/** Switched off, nothing is sent: not even a test (409 `webhooks_off`). */
async function refuseWhileOff(ctx: RuleContext): Promise<void> {
  const workspace = await ctx.db
    .selectFrom('workspaces')
    .select('webhooks_enabled')
    .where('id', '=', ctx.workspaceId)
    .executeTakeFirst()
  if (workspace && !workspace.webhooks_enabled) throw errors.webhooksOff()
}

/** Sends the rule once for this record and answers with what went and what came back. Not recorded. */
export async function testRule(
  ctx: RuleContext,
  engine: DeliveryEngine,
  ruleId: string,
  record: RecordInput | undefined,
) {
  const rule = await getRuleRow(ctx, ruleId)
  await refuseWhileOff(ctx)
  const { credentials, request } = await render(ctx, rule, await recordFor(ctx, rule, record))
  const secrets = await activeSigningSecrets(ctx.db, ctx.box, ctx.workspaceId)
  const signed = signOutbound(request, newId('msg'), secrets)
  const result = await engine.sender.send(signed, { timeoutMs: rule.execution.timeout_ms })
  const parsed =
    result.body !== null ? parseResponseBody(rule.response.format, result.body) : undefined
  return {
    request: redactRequest(signed, credentials, engine.responseBodyLimit),
    response: {
      status: result.status,
      headers: result.headers,
      body: result.body,
      duration_ms: result.durationMs,
      error: result.error,
    },
    response_mapped: mapResponse(rule.response.mapping, parsed),
  }
}

/**
 * Runs the rule on one record, recorded in history. Inline waits for the
 * first attempt and answers with it (retries, if any, go on in the
 * background); background answers with the queued delivery at once.
 */
export async function executeRule(
  ctx: RuleContext,
  engine: DeliveryEngine,
  ruleId: string,
  body: { record: RecordInput; mode?: 'inline' | 'background' },
) {
  const rule = await getRuleRow(ctx, ruleId)
  const mode = body.mode ?? rule.execution.mode
  // Background waits, queued, until webhooks are on; inline would leave its caller waiting.
  if (mode === 'inline') await refuseWhileOff(ctx)
  const id = newId('dlv')
  const row = {
    id,
    workspace_id: ctx.workspaceId,
    rule_id: rule.id,
    kind: 'rule' as const,
    event_id: null,
    event_type: null,
    entity_type: body.record.entity_type,
    entity_id: body.record.entity_id,
    record: JSON.stringify(manualRecord(body.record)),
    previous: null,
    max_attempts: rule.execution.max_attempts,
  }
  if (mode === 'background') {
    const runAt = new Date(Date.now() + rule.execution.delay_seconds * 1000)
    await scheduleDeliveries(ctx.db, [{ row, runAt }])
    return { mode, delivery: await getDelivery(engine, ctx.workspaceId, id) }
  }
  const inserted = await ctx.db
    .insertInto('deliveries')
    .values({ ...row, status: 'queued', job_id: null, next_attempt_at: new Date() })
    .returningAll()
    .executeTakeFirstOrThrow()
  await runAttempt(engine, inserted, { jobId: null })
  return { mode, delivery: await getDelivery(engine, ctx.workspaceId, id) }
}

/**
 * Sends job-less deliveries now, in parallel (an event's inline rules), and
 * answers them after their first attempt. An attempt that cannot even be
 * made (the database is gone) leaves its delivery as it is, for the
 * reconcile job: the event is recorded either way.
 */
export async function sendInline(
  engine: DeliveryEngine,
  workspaceId: string,
  ids: string[],
  log: { error(obj: object, msg: string): void },
) {
  const rows = await engine.db
    .selectFrom('deliveries')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', ids)
    .execute()
  await Promise.all(
    rows.map((row) =>
      runAttempt(engine, row, { jobId: null }).catch((err) =>
        log.error({ err, delivery: row.id }, 'inline send failed'),
      ),
    ),
  )
  return Promise.all(ids.map((id) => getDelivery(engine, workspaceId, id)))
}

export async function scheduleManual(ctx: RuleContext, ruleId: string, records: RecordInput[]) {
  const rule = await getRuleRow(ctx, ruleId)
  return scheduleDeliveries(
    ctx.db,
    records.map((record) => ({
      row: {
        id: newId('dlv'),
        workspace_id: ctx.workspaceId,
        rule_id: rule.id,
        kind: 'rule' as const,
        event_id: null,
        event_type: null,
        entity_type: record.entity_type,
        entity_id: record.entity_id,
        record: JSON.stringify(manualRecord(record)),
        previous: null,
        max_attempts: rule.execution.max_attempts,
      },
      runAt: new Date(),
    })),
  )
}
