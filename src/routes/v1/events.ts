import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../../errors.js'
import { eventKeyFromHeader } from '../../http/idempotency.js'
import { toDelivery } from '../../outbound/deliveries/delivery-service.js'
import { deliveriesPerJob } from '../../outbound/deliveries/schedule.js'
import { EventIntake } from '../../outbound/events/event-intake.js'
import { ingestEvents } from '../../outbound/events/event-service.js'
import { sendInline } from '../../outbound/rules/rule-actions.js'
import { errorResponses, ref } from '../../schemas/common.js'
import {
  EventBatch,
  EventBatchResult,
  EventDetail,
  EventInput,
  EventParams,
  EventResult,
} from '../../schemas/events.js'
import type { RouteDeps } from '../deps.js'

const tags = ['events']

export const eventRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, readDb, engine, metrics, config },
) => {
  const counted = (results: { duplicate: boolean }[]) =>
    metrics.eventsIngested.inc(results.filter((r) => !r.duplicate).length)
  // Concurrent single events share a transaction, a job and a NOTIFY.
  const perJob = deliveriesPerJob(config.workerConcurrency)
  const intake = new EventIntake(db, { perJob })

  app.post(
    '/events',
    {
      schema: {
        tags,
        summary: 'Send one event',
        description:
          'Records the event, matches it against the enabled rules triggered by its type, and queues a ' +
          'delivery per match. An `idempotency_key` is held for 24 hours: sent again with the same ' +
          'event (type, record and previous fields; key order does not matter), it answers the first ' +
          'answer with `duplicate: true` and sends nothing; sent with a different event, it is refused ' +
          'with 409 `conflict`. After 24 hours the key may name a new event. A matched rule in ' +
          'inline mode (no delay, no batching window) is sent before the answer, which then lists ' +
          'its delivery after the first attempt under `inline`; in a batch, inline rules are queued ' +
          'like the others. Events sent at the same moment by concurrent calls are written together ' +
          '(group commit); each call is answered once its own event is durable, with its own answer ' +
          'or error. ' +
          'Once the workspace has an event catalog (any event type defined, ' +
          'archived or not), a type not in it is refused with 400 `validation_failed` naming it ' +
          '(`type: unknown event type "lead.craeted"`), and an archived one likewise (`type: event ' +
          'type "lead.old" is archived`); nothing is recorded.',
        body: ref(EventInput),
        response: {
          202: ref(EventResult, 'Recorded; deliveries queued.'),
          ...errorResponses(400, 401, 409),
        },
      },
    },
    async (request, reply) => {
      eventKeyFromHeader(request)
      const { result, inline } = await intake.ingest(
        request.workspaceId,
        request.body as EventInput,
      )
      counted([result])
      if (inline.length === 0) return reply.code(202).send(result)
      const sent = await sendInline(engine, request.workspaceId, inline, request.log)
      return reply.code(202).send({ ...result, inline: sent })
    },
  )

  app.post(
    '/events/batch',
    {
      schema: {
        tags,
        summary: 'Send a batch of events',
        description:
          'Up to 1,000 events in one transaction; answers per event, in order. Idempotency keys work ' +
          'as for one event: an event repeating a key (sent earlier, or earlier in this batch) with ' +
          'the same event answers the first answer with `duplicate: true` and sends nothing. An event ' +
          'whose key was used for a different event within 24 hours refuses the whole batch with 409 ' +
          '`conflict`, as an invalid event does with 400: nothing in it is recorded, and the message ' +
          'names `events/<index>/idempotency_key`. With an event catalog, a batch naming an unknown ' +
          'or archived type is refused whole (400), the message naming each bad type with the ' +
          'indexes that sent it (`unknown event type "lead.craeted" at events/1/type, ' +
          'events/3/type`; the first ten per type).',
        body: ref(EventBatch),
        response: {
          202: ref(EventBatchResult, 'One result per event.'),
          ...errorResponses(400, 401, 409, 413),
        },
      },
    },
    async (request, reply) => {
      const events = request.body.events as EventInput[]
      const { results: data } = await ingestEvents(db, request.workspaceId, events, {
        batch: true,
        perJob,
      })
      counted(data)
      return reply.code(202).send({ data })
    },
  )

  app.get(
    '/events/:eventId',
    {
      schema: {
        tags,
        summary: 'Get an event with its deliveries',
        description:
          'The event as received (record, previous fields, idempotency key) and the deliveries it made.',
        params: EventParams,
        response: { 200: ref(EventDetail, 'The event.'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const event = await readDb
        .selectFrom('events')
        .selectAll()
        .where('workspace_id', '=', request.workspaceId)
        .where('id', '=', request.params.eventId)
        .executeTakeFirst()
      if (!event) throw errors.notFound('event', request.params.eventId)
      // A batch delivery names only its first event; the answer lists what each event joined.
      const queued = (event.answer as { deliveries?: string[] } | null)?.deliveries ?? []
      const deliveries = await readDb
        .selectFrom('deliveries')
        .selectAll()
        .where('workspace_id', '=', request.workspaceId)
        .where((eb) =>
          eb.or([
            eb('event_id', '=', event.id),
            ...(queued.length ? [eb('id', 'in', queued)] : []),
          ]),
        )
        .orderBy('id')
        .execute()
      return {
        id: event.id,
        type: event.type,
        record: {
          entity_type: event.entity_type,
          entity_id: event.entity_id,
          fields: event.fields,
        },
        previous_fields: event.previous,
        // A key taken over after 24 hours still shows on the event that had it first.
        idempotency_key: event.idempotency_key ?? event.released_idempotency_key,
        created_at: event.created_at.toISOString(),
        deliveries: deliveries.map(toDelivery),
      }
    },
  )
}
