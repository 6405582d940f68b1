import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import { precompiled } from '../../db/precompiled.js'
import { prepared } from '../../db/prepared.js'
import { errors } from '../../errors.js'
import { newId } from '../../ids.js'
import { notifyWorkers } from '../../queue/enqueue.js'
import type { EventInput, EventResult } from '../../schemas/events.js'
import {
  DELIVERIES_PER_JOB,
  jobGroups,
  nextJobId,
  PLANNED_COLUMNS,
  type PlannedDelivery,
  plannedJson,
  queuePlanned,
} from '../deliveries/schedule.js'
import { refuseUncataloguedTypes } from './catalog-check.js'
import { eventRow, isInline, planAnswers } from './event-service.js'
import { IngestViewCache, readIngestView, viewFingerprint } from './ingest-view.js'
import { type EventInsert, eventDocument, recordEvents } from './insert-events.js'
import { leasedNotification, queueOwnJobLeased } from './lease-lone.js'
import { eventRequestHash } from './request-hash.js'

/**
 * The write: with a view from the cache (`expected` its fingerprint), nothing
 * unless the view still holds. Compiled once; each group only binds its values.
 */
const writeTogether = precompiled<
  {
    expected: string | null
    workspaceId: string
    events: string
    planned: string
  },
  { recorded: string[]; stale: boolean }
>(
  ['expected', 'workspaceId', 'events', 'planned'],
  ({ expected, workspaceId, events, planned }) => sql`${prepared('ingest_together')}
    with fresh as (
      select ${expected}::text is null
        or ${viewFingerprint(workspaceId)} is not distinct from ${expected}::text as ok
    ),
    ${recordEvents(eventDocument(events), sql<boolean>`(select ok from fresh)`)},
    planned as (
      select p.* from jsonb_to_recordset(${planned}::jsonb) as p(${PLANNED_COLUMNS})
      where p.event_id in (select id from recorded)
    ),
    ${queuePlanned}
    select array(select id from recorded) as recorded, (select not ok from fresh) as stale,
      (select ${notifyWorkers} from jobs having count(*) > 0) as notified`,
)

/**
 * `writeTogether` for the commonest group, one event without an idempotency
 * key whose deliveries each have a job of their own (one per rule): the
 * event's columns as parameters, no key to claim, no jobs to group
 * (`queueOwnJobs`, here `queueOwnJobLeased`, which may lease the job to an
 * idle worker). Its plan has a third fewer nodes, and setting them up is
 * most of what a lone event's write costs PostgreSQL.
 */
const writeOne = precompiled<
  {
    expected: string | null
    workspaceId: string
    id: string
    type: string
    entityType: string
    entityId: string
    fields: string
    previous: string | null
    createdAt: string
    planned: string
    lease: boolean
  },
  { recorded: string[]; stale: boolean }
>(
  [
    'expected',
    'workspaceId',
    'id',
    'type',
    'entityType',
    'entityId',
    'fields',
    'previous',
    'createdAt',
    'planned',
    'lease',
  ],
  (a) => sql`${prepared('ingest_one')}
    with fresh as (
      select ${a.expected}::text is null
        or ${viewFingerprint(a.workspaceId)} is not distinct from ${a.expected}::text as ok
    ),
    recorded as (
      insert into events (id, workspace_id, type, entity_type, entity_id, fields, previous,
        created_at)
      select ${a.id}, ${a.workspaceId}, ${a.type}, ${a.entityType}, ${a.entityId},
        ${a.fields}::jsonb, ${a.previous}::jsonb, ${a.createdAt}::timestamptz
      where (select ok from fresh)
      returning id, type, entity_type, entity_id, fields, created_at
    ),
    planned as materialized (
      select p.*, ${nextJobId} as job_id
      from jsonb_to_recordset(${a.planned}::jsonb) as p(${PLANNED_COLUMNS})
      where exists (select from recorded)
    ),
    ${queueOwnJobLeased(a.lease)}
    select array(select id from recorded) as recorded, (select not ok from fresh) as stale,
      (select ${notifyWorkers} from jobs where locked_by is null having count(*) > 0) as notified,
      ${leasedNotification} as leased`,
)

/** Whether `writeOne` may write this group (see there). */
const alone = (rows: EventInsert[], groups: number[]) =>
  rows.length === 1 && rows[0]?.idempotency_key === null && groups.every((g, n) => g === n)

/** An event whose idempotency key was held: nothing of it was written. */
export const HELD = Symbol('held')

/**
 * The group commit's write (see EventIntake): the events of concurrent
 * single calls, with their deliveries and jobs and one NOTIFY, in one
 * statement, which is atomic without BEGIN and COMMIT. A group costs one
 * round trip when `views` remembers the workspace's view for its types (the
 * write checks it still holds; see IngestViewCache), two otherwise (the
 * view, then the write), where a transaction took six; each event is
 * answered on its own: its result, an Error for
 * a type the catalog refuses, or HELD for an event whose idempotency key was
 * held (the caller takes it again alone through `ingestEvents`, which
 * answers the first answer or a conflict). Undefined when a rule of the
 * group's types is in inline mode or has a batching window: those need
 * `ingestEvents`' transaction.
 */
export async function ingestTogether(
  db: Db,
  workspaceId: string,
  inputs: EventInput[],
  views?: IngestViewCache,
  perJob = DELIVERIES_PER_JOB,
): Promise<(EventResult | Error | typeof HELD)[] | undefined> {
  const types = [...new Set(inputs.map((input) => input.type))]
  const key = IngestViewCache.key(workspaceId, types)
  const cached = views?.get(key)
  const view = cached ?? (await readIngestView(db, workspaceId, types))
  if (!view) throw errors.notFound('workspace', workspaceId)
  if (!cached) views?.set(key, view)
  const rules = [...view.rulesByType.values()].flat()
  if (rules.some((rule) => isInline(rule) || rule.execution.batch_window_seconds > 0)) {
    return undefined
  }

  const outcomes = new Array<EventResult | Error | typeof HELD>(inputs.length)
  const taken: number[] = []
  for (const [index, input] of inputs.entries()) {
    try {
      refuseUncataloguedTypes([input.type], view.catalog, false)
      taken.push(index)
    } catch (error) {
      outcomes[index] = error as Error
    }
  }
  if (cached && taken.length < inputs.length) {
    // Refused by a remembered catalog: only a fresh read may refuse.
    views?.delete(key)
    return ingestTogether(db, workspaceId, inputs, views, perJob)
  }
  if (taken.length === 0) return outcomes
  const events = taken.map((index) => inputs[index] as EventInput)
  // Sorted, as ingestEvents' are: ids follow the order the calls were taken in.
  const ids = events.map(() => newId('evt')).sort()
  const context = { workspaceId, webhooksEnabled: view.webhooksEnabled, now: new Date() }
  const answers = planAnswers(context, events, ids, view.rulesByType)
  const rows = events.map((input, k) =>
    eventRow(
      workspaceId,
      input,
      ids[k] as string,
      input.idempotency_key ? eventRequestHash(input) : null,
      answers[k]?.result,
      context.now,
    ),
  )
  const planned = answers.flatMap((answer) => answer.planned)
  const groups = jobGroups(planned, perJob)
  const document = `[${planned.map((p, n) => plannedJson(p, n, groups[n] as number)).join(',')}]`
  // An event not recorded (its key was held) takes its planned deliveries
  // with it; their job groups are only labels, so the others' stay whole.
  // A view from the cache is checked in the statement; a fresh one is as
  // fresh as a separate read and write ever were.
  const expected = cached ? view.fingerprint : null
  const one = rows[0] as EventInsert
  const { rows: written } = alone(rows, groups)
    ? await writeOne(db, {
        expected,
        workspaceId,
        id: one.id,
        type: one.type,
        entityType: one.entity_type,
        entityId: one.entity_id,
        fields: JSON.stringify(one.fields),
        previous: one.previous === null ? null : JSON.stringify(one.previous),
        createdAt: one.created_at ?? context.now.toISOString(),
        planned: document,
        // One delivery due now: its job may go to an idle worker (queueOwnJobLeased).
        lease: planned.length === 1 && (planned[0] as PlannedDelivery).runAt <= context.now,
      })
    : await writeTogether(db, {
        expected,
        workspaceId,
        events: JSON.stringify(rows),
        planned: document,
      })
  if (written[0]?.stale) {
    // A rule, the catalog or the workspace changed since: nothing was written.
    views?.delete(key)
    return ingestTogether(db, workspaceId, inputs, views, perJob)
  }
  const recorded = new Set(written[0]?.recorded ?? [])
  for (const [k, index] of taken.entries()) {
    const answer = answers[k]?.result as EventResult
    outcomes[index] = recorded.has(answer.id) ? answer : HELD
  }
  return outcomes
}
