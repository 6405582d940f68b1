/**
 * The guides shown beside the reference at /docs: Markdown in the OpenAPI
 * document's `info.description`, whose headings Scalar lists in its sidebar
 * before the operations. Kept short; the README has the detail.
 */

const overview = `Hookline sends your CRM's events to other systems (**outbound rules**) and takes other systems' webhooks into your CRM (**inbound handlers**). Every \`/v1\` call acts for one workspace, authenticated by its API key.

- JSON in and out; errors are \`{ statusCode, code, error, message }\` (plus \`errors[]\` when validation fails); lists are \`{ data, next_cursor }\`.
- Creates take an \`Idempotency-Key\` header; \`/v1\` is rate limited per workspace (\`RateLimit\` headers, 429 with \`Retry-After\`).
- PATCH takes \`application/merge-patch+json\` (RFC 7396). Deprecated forms stay served until their \`Sunset\` date and say so in a \`Deprecation\` header.
- The OpenAPI document is at [/openapi.json](/openapi.json).`

const gettingStarted = `## Getting started

1. **Get a key.** The first start of Hookline prints a workspace API key (\`hl_…\`) once. An operator can issue more: \`POST /operator/workspaces/{workspaceId}/api-keys\` with the \`OPERATOR_TOKEN\`.
2. **Try it.** Paste the key as the **Bearer Token** under Authentication (top right; it is kept for every operation), open *The workspace this API key belongs to* (\`GET /v1/workspace\`), click **Test Request**, then **Send**: it answers your workspace. From a shell:

   \`\`\`sh
   curl -H "Authorization: Bearer $HOOKLINE_KEY" http://127.0.0.1:3000/v1/workspace
   \`\`\`

3. **Say where notices go.** \`PATCH /v1/settings\` with \`{ "crm_callback_url": "https://crm.example.com/hookline" }\`: inbound records and Hookline's own notices are POSTed there.
4. **Send a webhook.** Create a rule (\`POST /v1/rules\`) with the event types it listens to, its conditions and its request (method, URL, body template), then post an event:

   \`\`\`sh
   curl -X POST http://127.0.0.1:3000/v1/events \\
     -H "Authorization: Bearer $HOOKLINE_KEY" -H "Content-Type: application/json" \\
     -H "Idempotency-Key: lead-L-1001-created" \\
     -d '{"type":"lead.created","record":{"entity_type":"lead","entity_id":"L-1001","fields":{"lead":{"name":"Ada"}}}}'
   \`\`\`

   The answer lists the deliveries it queued; \`GET /v1/deliveries/{deliveryId}\` shows each attempt.
5. **Take a webhook in.** Create a handler (\`POST /v1/handlers\`) and give its \`endpoint_url\` to the sender (see *Inbound handlers*).`

const signatures = `## Verifying signatures

Every request Hookline sends (rules and CRM notices) is signed the [Standard Webhooks](https://www.standardwebhooks.com) way with the workspace's secret (\`GET /v1/settings/signing-secret\`, \`whsec_…\`):

- \`webhook-id\` (the delivery id, the same on every retry: drop duplicates with it), \`webhook-timestamp\` (Unix seconds) and \`webhook-signature\`: \`v1,\` + base64 HMAC-SHA256, keyed with the base64-decoded part of \`whsec_…\`, of \`<webhook-id>.<webhook-timestamp>.<body>\`.
- \`<body>\` is the raw body bytes as sent for POST, PUT and PATCH, and the request target (path and query, as sent) for GET and DELETE.
- \`X-Hookline-Signature: sha256=<hex HMAC-SHA256 of the body alone>\` is there too, for receivers that cannot use the first (it has no replay protection).

With the \`standardwebhooks\` package:

\`\`\`ts
import { Webhook } from 'standardwebhooks'
const webhook = new Webhook(process.env.HOOKLINE_SIGNING_SECRET!)
// rawBody: the bytes as received (a re-serialized parse would not verify)
webhook.verify(rawBody, {
  'webhook-id': headers['webhook-id'],
  'webhook-timestamp': headers['webhook-timestamp'],
  'webhook-signature': headers['webhook-signature'],
}, { jsonParse: false })
\`\`\`

Refuse a request whose signature does not match or whose timestamp is more than five minutes off. During a rotation a request carries one signature per active secret (space-separated): accept it when any one matches.`

const handlers = `## Inbound handlers

A handler is a public endpoint, \`/in/<token>\`, for a system that sends webhooks to your CRM (a form tool, a payment provider, a dialer):

1. \`POST /v1/handlers\` with a title, the \`methods\` it takes (POST, GET), the \`body_format\` (\`auto\`, \`json\`, \`form\`, \`xml\`, \`multipart\`), its \`parameters\` (names, types, required), a \`mapping\` of parameters to CRM fields and, to trust only the sender, a \`verification\` (\`hmac\`, \`stripe\`, \`standard_webhooks\`, \`basic\`, \`secret_header\`, \`secret_query\`). \`POST /v1/handlers/sample-parameters\` turns a sample body into parameters.
2. Give the answer's \`endpoint_url\` to the sender. The token in it is the credential: \`POST /v1/handlers/{handlerId}/rotate-token\` replaces it.
3. Each call is recorded before it is answered (\`GET /v1/handlers/{handlerId}/calls\`): \`accepted\` calls are mapped and forwarded to the CRM callback as an \`inbound.record\` notice; \`duplicate\`, \`filtered\`, \`inactive\`, \`rejected\` (verification failed) and \`invalid\` calls are not.
4. \`response\` sets what the sender is answered (a 2xx status, content type, headers, a body template). \`POST …/disable\` stops forwarding (calls answer 503 with \`Retry-After\`), \`POST …/enable\` resumes.`

const rotating = `## Rotating secrets

Every credential can change without a refused request:

- **Your signing secret** (outbound): \`POST /v1/settings/signing-secret/rotate\` with \`{ "overlap_seconds": 86400 }\`. The answer is the new secret; for the overlap each request is signed with both, so receivers can switch at their pace.
- **A handler's verification secret** (inbound): \`POST /v1/handlers/{handlerId}/rotate-secret\` with the sender's new \`secret\` and \`overlap_seconds\`: the old secret stays accepted beside the new one until the overlap ends.
- **A handler's endpoint URL**: \`POST /v1/handlers/{handlerId}/rotate-token\`. The old URL stops at once, so give the sender the new one first.
- **An API key**: issue a new key (\`POST /operator/workspaces/{workspaceId}/api-keys\`), move your CRM to it, then revoke the old one (\`DELETE …/api-keys/{keyId}\` with \`Prefer: return=minimal\`).`

export const guides = [overview, gettingStarted, signatures, handlers, rotating].join('\n\n')
