import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { BODY_OPTIONAL } from '../../http/body-optional.js'
import { markDeprecated } from '../../http/deprecation.js'
import { mergePatchBody, wellFormedId } from '../../http/merge-patch.js'
import { parseAllowList } from '../../net/address-policy.js'
import { executeRule, previewRule, testRule } from '../../outbound/rules/rule-actions.js'
import * as rules from '../../outbound/rules/rule-service.js'
import { errorResponses, ref } from '../../schemas/common.js'
import {
  ExecuteBody,
  ExecuteResult,
  PreviewResult,
  RecordBody,
  type RecordInput,
  TestResult,
} from '../../schemas/rule-actions.js'
import {
  CloneRuleBody,
  CreateRuleBody,
  ReferencesBody,
  Rule,
  type RuleInput,
  RuleListQuery,
  RulePage,
  RuleParams,
  UpdateRuleBody,
} from '../../schemas/rules.js'
import type { RouteDeps } from '../deps.js'

const tags = ['rules']

export const ruleRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, box, engine, config },
) => {
  const allow = parseAllowList(config.outboundAllowList)
  const ctx = (workspaceId: string) => ({ db, box, workspaceId, allow })

  app.post(
    '/rules',
    {
      schema: {
        tags,
        summary: 'Create a rule',
        description:
          'An outbound webhook: trigger event types (none: manual only), conditions, the request to render, ' +
          'auth, execution and response handling. Templates, conditions and catalog names are checked on save.',
        body: ref(CreateRuleBody),
        response: { 201: ref(Rule, 'The new rule.'), ...errorResponses(400, 401) },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await rules.createRule(
            ctx(request.workspaceId),
            request.body as RuleInput & { title: string; request: never },
          ),
        ),
  )

  app.get(
    '/rules',
    {
      schema: {
        tags,
        summary: 'List rules',
        description:
          'Sort by created, title, status, trigger or URL; filter by text, status and event type.',
        querystring: RuleListQuery,
        response: { 200: ref(RulePage, 'One page of rules.'), ...errorResponses(400, 401) },
      },
    },
    async (request, reply) => {
      if (request.query.sort.endsWith('status')) markDeprecated(reply)
      return rules.listRules(ctx(request.workspaceId), request.query)
    },
  )

  app.get(
    '/rules/export.csv',
    {
      schema: {
        tags,
        summary: 'Export rules as CSV',
        description:
          'The same filters and sort as the list, as one CSV file (at most 10,000 rows).',
        querystring: Type.Omit(RuleListQuery, ['limit', 'cursor']),
        produces: ['text/csv'],
        response: {
          200: {
            description: 'CSV with a header row.',
            content: { 'text/csv': { schema: Type.String({ examples: ['id,title,status\r\n'] }) } },
          },
          ...errorResponses(400, 401),
        },
      },
    },
    async (request, reply) => {
      if (request.query.sort.endsWith('status')) markDeprecated(reply)
      const csv = await rules.exportRulesCsv(ctx(request.workspaceId), {
        ...request.query,
        limit: 1,
      })
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="rules.csv"')
        .send(csv)
    },
  )

  app.get(
    '/rules/:ruleId',
    {
      schema: {
        tags,
        summary: 'Get a rule',
        description:
          'The rule as stored; the auth’s secret is never shown (`auth.secret_set` says whether one is).',
        params: RuleParams,
        response: { 200: ref(Rule, 'The rule.'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => rules.getRule(ctx(request.workspaceId), request.params.ruleId),
  )

  app.patch(
    '/rules/:ruleId',
    {
      schema: {
        tags,
        summary: 'Update a rule',
        description:
          'Send `content-type: application/merge-patch+json` (RFC 7396): top-level properties sent replace ' +
          'the stored ones, and the nested objects `request`, `execution` and `response` are merged ' +
          'member by member (`null` removes a member, which takes its default). `conditions` and `auth` ' +
          'are replaced whole. With `application/json` (deprecated for nested objects) a nested object ' +
          'sent replaces the stored one, members left out taking their defaults.',
        params: RuleParams,
        body: ref(UpdateRuleBody),
        response: { 200: ref(Rule, 'The updated rule.'), ...errorResponses(400, 401, 404) },
      },
      preValidation: mergePatchBody(['request', 'execution', 'response'], async (request) => {
        const { ruleId } = request.params as { ruleId?: unknown }
        if (!wellFormedId(ruleId)) return undefined
        const row = await rules.getRuleRow(ctx(request.workspaceId), ruleId)
        return { request: row.request, execution: row.execution, response: row.response }
      }),
    },
    async (request) =>
      rules.updateRule(ctx(request.workspaceId), request.params.ruleId, request.body as RuleInput),
  )

  app.delete(
    '/rules/:ruleId',
    {
      schema: {
        tags,
        summary: 'Delete a rule',
        description: 'Final. Refused (409) while the rule is enabled or used by a host automation.',
        params: RuleParams,
        response: {
          204: Type.Null({ description: 'Deleted.' }),
          ...errorResponses(400, 401, 404, 409),
        },
      },
    },
    async (request, reply) => {
      await rules.deleteRule(ctx(request.workspaceId), request.params.ruleId)
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/rules/:ruleId/clone',
    {
      schema: {
        tags,
        summary: 'Clone a rule',
        description:
          'Same settings (credentials included), titled "<title> - Clone", disabled, and credited ' +
          'to the `created_by` sent (null when none is): the clone is made by whoever cloned it. ' +
          'The body is optional; unknown properties are refused.',
        params: RuleParams,
        body: ref(CloneRuleBody),
        [BODY_OPTIONAL]: true,
        response: { 201: ref(Rule, 'The clone.'), ...errorResponses(400, 401, 404) },
      },
      // No body at all is an empty one; a body sent is validated as any other.
      preValidation: async (request) => {
        request.body ??= {}
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await rules.cloneRule(
            ctx(request.workspaceId),
            request.params.ruleId,
            request.body.created_by ?? null,
          ),
        ),
  )

  for (const action of ['enable', 'disable'] as const) {
    app.post(
      `/rules/:ruleId/${action}`,
      {
        schema: {
          tags,
          summary: action === 'enable' ? 'Enable a rule' : 'Disable a rule',
          description:
            action === 'enable'
              ? 'Clears a reason Hookline disabled it for.'
              : 'Pauses it: events no longer trigger it.',
          params: RuleParams,
          response: { 200: ref(Rule, 'The rule.'), ...errorResponses(400, 401, 404) },
        },
      },
      async (request) =>
        rules.setRuleEnabled(ctx(request.workspaceId), request.params.ruleId, action === 'enable'),
    )
  }

  app.put(
    '/rules/:ruleId/references',
    {
      schema: {
        tags,
        summary: 'Set which host automations use a rule',
        description: 'Replaces the list. A referenced rule cannot be deleted.',
        params: RuleParams,
        body: ref(ReferencesBody),
        response: {
          200: ref(Rule, 'The rule with its references.'),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) =>
      rules.replaceReferences(
        ctx(request.workspaceId),
        request.params.ruleId,
        request.body.references,
      ),
  )

  app.post(
    '/rules/:ruleId/preview',
    {
      schema: {
        tags,
        summary: 'Preview the request for a record',
        description:
          'Renders and signs the request the rule would send; sends nothing. Without a `record`, ' +
          'the sample of the first of the rule’s event types that has one is rendered.',
        params: RuleParams,
        body: ref(RecordBody),
        response: {
          200: ref(PreviewResult, 'The rendered request.'),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) =>
      previewRule(
        ctx(request.workspaceId),
        request.params.ruleId,
        request.body.record as RecordInput | undefined,
        engine.responseBodyLimit,
      ),
  )

  app.post(
    '/rules/:ruleId/test',
    {
      schema: {
        tags,
        summary: 'Send the rule once, now',
        description:
          'Sends inline and answers with the request and response. Not kept in history. Without a ' +
          '`record`, the sample of the first of the rule’s event types that has one is sent. While ' +
          'the workspace’s webhooks are switched off nothing is sent: 409 `webhooks_off`.',
        params: RuleParams,
        body: ref(RecordBody),
        response: {
          200: ref(TestResult, 'What was sent and what came back.'),
          ...errorResponses(400, 401, 404, 409),
        },
      },
    },
    async (request) =>
      testRule(
        ctx(request.workspaceId),
        engine,
        request.params.ruleId,
        request.body.record as RecordInput | undefined,
      ),
  )

  app.post(
    '/rules/:ruleId/execute',
    {
      schema: {
        tags,
        summary: 'Run a rule on one record',
        description:
          'Inline waits for the first attempt and answers with it; background answers with the queued delivery. ' +
          'Recorded in history either way. While the workspace’s webhooks are switched off, ' +
          'inline answers 409 `webhooks_off` and sends nothing; background queues the delivery, ' +
          'which waits until they are switched on.',
        params: RuleParams,
        body: ref(ExecuteBody),
        response: {
          200: ref(ExecuteResult, 'Inline: the delivery after its first attempt.'),
          202: ref(ExecuteResult, 'Background: the queued delivery.'),
          ...errorResponses(400, 401, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const result = await executeRule(ctx(request.workspaceId), engine, request.params.ruleId, {
        record: request.body.record as RecordInput,
        mode: request.body.mode as 'inline' | 'background' | undefined,
      })
      return reply.code(result.mode === 'inline' ? 200 : 202).send(result)
    },
  )
}
