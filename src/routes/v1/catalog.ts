import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import * as catalog from '../../catalog/catalog-service.js'
import {
  EventType,
  EventTypeName,
  EventTypePage,
  FieldList,
  UpsertEventTypeBody,
} from '../../schemas/catalog.js'
import { errorResponses, PageQuery, ref } from '../../schemas/common.js'
import type { RouteDeps } from '../deps.js'

const tags = ['catalog']
const NameParams = Type.Object({ name: EventTypeName }, { additionalProperties: false })

export const catalogRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db }) => {
  app.put(
    '/event-types/:name',
    {
      schema: {
        tags,
        summary: 'Create or replace an event type',
        description: 'Once any event type exists, rules may only name catalogued types.',
        params: NameParams,
        body: ref(UpsertEventTypeBody),
        response: {
          200: ref(EventType, 'Replaced.'),
          201: ref(EventType, 'Created.'),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request, reply) => {
      const { eventType, created } = await catalog.upsertEventType(
        db,
        request.workspaceId,
        request.params.name,
        request.body,
      )
      return reply.code(created ? 201 : 200).send(eventType)
    },
  )

  app.get(
    '/event-types',
    {
      schema: {
        tags,
        summary: 'List event types',
        description: 'By name; archived types only with `include_archived=true`.',
        querystring: Type.Object(
          { ...PageQuery.properties, include_archived: Type.Boolean({ default: false }) },
          { additionalProperties: false },
        ),
        response: {
          200: ref(EventTypePage, 'One page of event types.'),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => catalog.listEventTypes(db, request.workspaceId, request.query),
  )

  app.get(
    '/event-types/:name',
    {
      schema: {
        tags,
        summary: 'Get an event type',
        description: 'Archived event types are found too; `archived` says which.',
        params: NameParams,
        response: { 200: ref(EventType, 'The event type.'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => catalog.getEventType(db, request.workspaceId, request.params.name),
  )

  app.delete(
    '/event-types/:name',
    {
      schema: {
        tags,
        summary: 'Delete an event type',
        description: 'Rules naming it keep working; archive it instead to hide it from pickers.',
        params: NameParams,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await catalog.deleteEventType(db, request.workspaceId, request.params.name)
      return reply.code(204).send(null)
    },
  )

  app.get(
    '/fields',
    {
      schema: {
        tags,
        summary: 'List the field catalog',
        description: 'Every field templates and conditions may name, sorted by key.',
        response: { 200: ref(FieldList, 'Every field, by key.'), ...errorResponses(401) },
      },
    },
    async (request) => ({ data: await catalog.listFields(db, request.workspaceId) }),
  )

  app.put(
    '/fields',
    {
      schema: {
        tags,
        summary: 'Replace the field catalog',
        description: 'The whole catalog in one call. An empty list turns field checks off.',
        body: ref(FieldList),
        response: { 200: ref(FieldList, 'The catalog as stored.'), ...errorResponses(400, 401) },
      },
    },
    async (request) => ({
      data: await catalog.replaceFields(db, request.workspaceId, request.body.data),
    }),
  )
}
