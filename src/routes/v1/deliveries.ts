import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import * as deliveries from '../../outbound/deliveries/delivery-service.js'
import { errorResponses, ref } from '../../schemas/common.js'
import {
  Delivery,
  DeliveryDetail,
  DeliveryListQuery,
  DeliveryPage,
  DeliveryParams,
  RetryFailedBody,
  RetryFailedResult,
} from '../../schemas/deliveries.js'
import type { RouteDeps } from '../deps.js'

const tags = ['deliveries']

// The GETs read history (from the read replica when there is one); the POSTs write.
export const deliveryRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, readDb, engine },
) => {
  // A delivery's attempts are rendered again from the rule version it was sent with: history too.
  const history = { db: readDb, box: engine.box, responseBodyLimit: engine.responseBodyLimit }
  app.get(
    '/deliveries',
    {
      schema: {
        tags,
        summary: 'List deliveries (the history)',
        description:
          'Newest first; by default the last 7 days. Filter by rule, status, event type, record, time.',
        querystring: DeliveryListQuery,
        response: {
          200: ref(DeliveryPage, 'One page of deliveries.'),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => deliveries.listDeliveries(readDb, request.workspaceId, request.query),
  )

  app.get(
    '/deliveries/:deliveryId',
    {
      schema: {
        tags,
        summary: 'Get a delivery with its attempts',
        description:
          'Each attempt’s request (credentials redacted), response status, headers and body, duration, error.',
        params: DeliveryParams,
        response: { 200: ref(DeliveryDetail, 'The delivery.'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) =>
      deliveries.getDelivery(history, request.workspaceId, request.params.deliveryId),
  )

  app.post(
    '/deliveries/:deliveryId/resend',
    {
      schema: {
        tags,
        summary: 'Send a finished delivery again',
        description: 'Same delivery id and webhook-id, a fresh set of tries.',
        params: DeliveryParams,
        response: { 202: ref(Delivery, 'Queued again.'), ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request, reply) =>
      reply
        .code(202)
        .send(await deliveries.resendDelivery(db, request.workspaceId, request.params.deliveryId)),
  )

  app.post(
    '/deliveries/:deliveryId/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a queued delivery',
        description:
          'Only a delivery still waiting in the queue can be cancelled; one already sending or finished is a 409.',
        params: DeliveryParams,
        response: { 200: ref(Delivery, 'Cancelled.'), ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request) =>
      deliveries.cancelDelivery(db, request.workspaceId, request.params.deliveryId),
  )

  app.post(
    '/deliveries/retry-failed',
    {
      schema: {
        tags,
        summary: 'Retry every failed delivery of a rule in a time range',
        description:
          'Queues again each failed delivery of the rule created between `since` and `until` (default: now), ' +
          'at most 10,000, as a resend would. 404 when the rule does not exist.',
        body: ref(RetryFailedBody),
        response: {
          202: ref(RetryFailedResult, 'The deliveries queued again.'),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request, reply) =>
      reply.code(202).send(await deliveries.retryFailed(db, request.workspaceId, request.body)),
  )
}
