import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../../errors.js'
import { toDelivery } from '../../outbound/deliveries/delivery-service.js'
import { ingestEvents } from '../../outbound/events/event-service.js'
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

export const eventRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db }) => {
  app.post(
    '/events',
    {
      schema: {
        tags,
        summary: 'Send one event',
        description:
          'Records the event, matches it against the enabled rules triggered by its type, and queues a ' +
          'delivery per match. A repeated `idempotency_key` answers the first answer and sends nothing.',
        body: ref(EventInput),
        response: {
          202: ref(EventResult, 'Recorded; deliveries queued.'),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request, reply) => {
      const [result] = await ingestEvents(db, request.workspaceId, [request.body as EventInput])
      return reply.code(202).send(result as EventResult)
    },
  )

  app.post(
    '/events/batch',
    {
      schema: {
        tags,
        summary: 'Send a batch of events',
        description: 'Up to 1,000 events in one transaction; answers per event, in order.',
        body: ref(EventBatch),
        response: {
          202: ref(EventBatchResult, 'One result per event.'),
          ...errorResponses(400, 401, 413),
        },
      },
    },
    async (request, reply) => {
      const data = await ingestEvents(db, request.workspaceId, request.body.events as EventInput[])
      return reply.code(202).send({ data })
    },
  )

  app.get(
    '/events/:eventId',
    {
      schema: {
        tags,
        summary: 'Get an event with its deliveries',
        params: EventParams,
        response: { 200: ref(EventDetail, 'The event.'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const event = await db
        .selectFrom('events')
        .selectAll()
        .where('workspace_id', '=', request.workspaceId)
        .where('id', '=', request.params.eventId)
        .executeTakeFirst()
      if (!event) throw errors.notFound('event', request.params.eventId)
      // A batch delivery names only its first event; the answer lists what each event joined.
      const queued = (event.answer as { deliveries?: string[] } | null)?.deliveries ?? []
      const deliveries = await db
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
        idempotency_key: event.idempotency_key,
        created_at: event.created_at.toISOString(),
        deliveries: deliveries.map(toDelivery),
      }
    },
  )
}
