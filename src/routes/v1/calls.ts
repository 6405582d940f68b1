import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { getCall, listCalls } from '../../inbound/call-service.js'
import { CallDetail, CallListQuery, CallPage, CallParams } from '../../schemas/calls.js'
import { errorResponses, ref } from '../../schemas/common.js'
import { HandlerParams } from '../../schemas/handlers.js'
import type { RouteDeps } from '../deps.js'

const tags = ['calls']

/** The inbound call log: history, read from the read replica when there is one. */
export const callRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { readDb: db }) => {
  app.get(
    '/handlers/:handlerId/calls',
    {
      schema: {
        tags,
        summary: 'List a handler’s calls',
        description:
          'Newest first; by default the last 7 days, any range with `from` and `to`. Filter by method and ' +
          'outcome (repeat `outcome` for several).',
        params: HandlerParams,
        querystring: CallListQuery,
        response: { 200: ref(CallPage, 'One page of calls.'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => listCalls(db, request.workspaceId, request.params.handlerId, request.query),
  )

  app.get(
    '/calls/:callId',
    {
      schema: {
        tags,
        summary: 'Get a call with its request and outcome',
        description:
          'The raw request (headers and query with secrets masked, the body as kept), the parsed parameters, ' +
          'the mapped record, the CRM lookup’s answer (GET), the outcome and why, and what was forwarded.',
        params: CallParams,
        response: { 200: ref(CallDetail, 'The call.'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => getCall(db, request.workspaceId, request.params.callId),
  )
}
