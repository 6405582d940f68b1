import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import * as massPosts from '../../outbound/mass-posts/mass-post-service.js'
import { errorResponses, PageQuery, ref } from '../../schemas/common.js'
import {
  CreateMassPostBody,
  MassPost,
  MassPostItemPage,
  MassPostParams,
  MassPostPreview,
  PreviewQuery,
} from '../../schemas/mass-posts.js'
import type { RecordInput } from '../../schemas/rule-actions.js'
import { RuleParams } from '../../schemas/rules.js'
import type { RouteDeps } from '../deps.js'

const tags = ['mass posts']

export const massPostRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, readDb, box, engine, config },
) => {
  const ctx = (workspaceId: string) => ({ db, box, workspaceId })
  // A mass post's report and per-record outcomes are history: the read replica when there is one.
  const report = (workspaceId: string) => ({ db: readDb, box, workspaceId })

  app.post(
    '/rules/:ruleId/mass-posts',
    {
      // Up to 100,000 records in one body: this route alone takes a larger body.
      bodyLimit: config.massPostBodyLimitBytes,
      schema: {
        tags,
        summary: 'Create a mass post for a rule',
        description: 'Stores the records as a draft. Preview them one by one, then start it.',
        params: RuleParams,
        body: ref(CreateMassPostBody),
        response: { 201: ref(MassPost, 'The draft.'), ...errorResponses(400, 401, 404, 413) },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await massPosts.createMassPost(
            ctx(request.workspaceId),
            request.params.ruleId,
            request.body.records as RecordInput[],
          ),
        ),
  )

  app.get(
    '/mass-posts/:massPostId',
    {
      schema: {
        tags,
        summary: 'Get a mass post with its progress',
        description:
          'Its status, the number of records, and how many are done (succeeded, failed, cancelled) or remain.',
        params: MassPostParams,
        response: { 200: ref(MassPost, 'The mass post.'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) =>
      massPosts.getMassPost(report(request.workspaceId), request.params.massPostId),
  )

  app.get(
    '/mass-posts/:massPostId/preview',
    {
      schema: {
        tags,
        summary: 'Preview one record of a mass post',
        description: 'The request the rule would send for record `index`; `next_index` pages on.',
        params: MassPostParams,
        querystring: PreviewQuery,
        response: {
          200: ref(MassPostPreview, 'The rendered request.'),
          ...errorResponses(400, 401, 404, 409),
        },
      },
    },
    async (request) =>
      massPosts.previewMassPostItem(
        ctx(request.workspaceId),
        request.params.massPostId,
        request.query.index,
        engine.responseBodyLimit,
      ),
  )

  app.post(
    '/mass-posts/:massPostId/start',
    {
      schema: {
        tags,
        summary: 'Post every record in the background',
        description: 'Deliveries are made in chunks, at the rule’s rate limit when it has one.',
        params: MassPostParams,
        response: { 202: ref(MassPost, 'Started.'), ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request, reply) =>
      reply
        .code(202)
        .send(await massPosts.startMassPost(ctx(request.workspaceId), request.params.massPostId)),
  )

  app.post(
    '/mass-posts/:massPostId/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a mass post',
        description: 'Records not yet sent are not sent; finished ones stay as they are.',
        params: MassPostParams,
        response: { 200: ref(MassPost, 'Cancelled.'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) =>
      massPosts.cancelMassPost(ctx(request.workspaceId), request.params.massPostId),
  )

  app.get(
    '/mass-posts/:massPostId/items',
    {
      schema: {
        tags,
        summary: 'Per-record outcome of a mass post',
        description:
          'Each record of the list, in list order, with its delivery, status and response status.',
        params: MassPostParams,
        querystring: PageQuery,
        response: {
          200: ref(MassPostItemPage, 'One page of records, in list order.'),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) =>
      massPosts.listMassPostItems(
        report(request.workspaceId),
        request.params.massPostId,
        request.query,
      ),
  )
}
