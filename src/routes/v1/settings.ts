import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { parseAllowList } from '../../net/address-policy.js'
import { errorResponses, ref } from '../../schemas/common.js'
import {
  RotateSecretBody,
  SigningSecret,
  UpdateSettingsBody,
  WorkspaceSettings,
} from '../../schemas/settings.js'
import { getSettings, updateSettings } from '../../settings/settings-service.js'
import { revealCurrentSecret, rotateSigningSecret } from '../../settings/signing-secrets.js'
import type { RouteDeps } from '../deps.js'

const tags = ['settings']

export const settingsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, box, config },
) => {
  const allow = parseAllowList(config.outboundAllowList)
  const toSecret = ({ row, secret }: Awaited<ReturnType<typeof revealCurrentSecret>>) => ({
    id: row.id,
    secret,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
  })

  app.get(
    '/settings',
    {
      schema: {
        tags,
        summary: 'Read the workspace’s webhook settings',
        description:
          'Whether webhooks are on, the CRM callback and lookup URLs, the retention, and the ' +
          'signing secrets’ ids and expiry (never their values: see `GET /v1/settings/signing-secret`).',
        response: { 200: ref(WorkspaceSettings, 'The settings.'), ...errorResponses(401) },
      },
    },
    async (request) => getSettings(db, box, request.workspaceId),
  )

  app.patch(
    '/settings',
    {
      schema: {
        tags,
        summary: 'Change the workspace’s webhook settings',
        description:
          'Switch webhooks off as a whole, set the CRM callback and lookup URLs, the retention.',
        body: ref(UpdateSettingsBody),
        response: {
          200: ref(WorkspaceSettings, 'The settings after the change.'),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => updateSettings(db, box, request.workspaceId, request.body, allow),
  )

  app.get(
    '/settings/signing-secret',
    {
      schema: {
        tags,
        summary: 'Show the current signing secret',
        description: 'Receivers verify Hookline’s signatures with it (Standard Webhooks).',
        response: { 200: ref(SigningSecret, 'The current secret.'), ...errorResponses(401) },
      },
    },
    async (request) => toSecret(await revealCurrentSecret(db, box, request.workspaceId)),
  )

  app.post(
    '/settings/signing-secret/rotate',
    {
      schema: {
        tags,
        summary: 'Rotate the signing secret',
        description:
          'The old secret keeps signing beside the new one for `overlap_seconds`: `webhook-signature` ' +
          'and `X-Hookline-Signature` each carry one signature per active secret, space-separated, ' +
          'the current first (`sha256=<new> sha256=<old>`).',
        body: ref(RotateSecretBody),
        response: {
          200: ref(SigningSecret, 'The new current secret.'),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) =>
      toSecret(
        await rotateSigningSecret(
          db,
          box,
          request.workspaceId,
          request.body.overlap_seconds ?? 86400,
        ),
      ),
  )
}
