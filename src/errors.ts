/**
 * The error catalogue. Services throw these; one handler (src/http/error-handler.ts)
 * turns them into `{ statusCode, code, error, message }`. Codes are stable API:
 * clients branch on them, so rename nothing.
 */
export class HooklineError extends Error {
  override name = 'HooklineError'
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** Each problem as `path: why`, when a check found several (see `validation`). */
    readonly problems?: string[],
  ) {
    super(message)
  }
}

const define =
  <A extends unknown[]>(statusCode: number, code: string, message: (...args: A) => string) =>
  (...args: A) =>
    new HooklineError(statusCode, code, message(...args))

export const errors = {
  /** One problem, or every problem a check found (each `path: why`); `message` joins them. */
  validation: (detail: string | string[]) =>
    typeof detail === 'string'
      ? new HooklineError(400, 'validation_failed', detail, [detail])
      : new HooklineError(400, 'validation_failed', detail.join('; '), detail),
  invalidCursor: define(400, 'invalid_cursor', () => 'cursor: not a cursor this list returned'),
  unauthorized: define(
    401,
    'unauthorized',
    () => 'missing or invalid API key: send "Authorization: Bearer <key>"',
  ),
  operatorUnauthorized: define(
    401,
    'operator_unauthorized',
    () => 'missing or invalid operator token: send "Authorization: Bearer <OPERATOR_TOKEN>"',
  ),
  operatorDisabled: define(
    403,
    'operator_api_disabled',
    () => 'the operator API is disabled: set OPERATOR_TOKEN to enable it',
  ),
  metricsUnauthorized: define(
    401,
    'metrics_unauthorized',
    () =>
      'missing or invalid token: send "Authorization: Bearer <METRICS_TOKEN or OPERATOR_TOKEN>"',
  ),
  metricsDisabled: define(
    403,
    'metrics_disabled',
    () => '/metrics is disabled: set METRICS_TOKEN (or OPERATOR_TOKEN) to enable it',
  ),
  notFound: define(
    404,
    'not_found',
    (resource: string, id: string) => `${resource} ${id} not found`,
  ),
  routeNotFound: define(
    404,
    'route_not_found',
    (method: string, url: string) => `no route ${method} ${url}`,
  ),
  conflict: define(409, 'conflict', (detail: string) => detail),
  webhooksOff: define(
    409,
    'webhooks_off',
    () =>
      'webhooks are switched off for the workspace, so nothing was sent; switch them on with ' +
      'PATCH /v1/settings {"webhooks_enabled": true}',
  ),
  invalidJson: define(400, 'invalid_json', (detail: string) => detail),
  tooDeep: define(400, 'too_deep', (detail: string) => detail),
  invalidText: define(
    400,
    'invalid_text',
    () => 'request: a value holds U+0000 (NUL), which cannot be stored',
  ),
  // Found by Node's HTTP parser, before a request reaches a route.
  malformedRequest: define(
    400,
    'malformed_request',
    () => 'request: not valid HTTP/1.1 (framing, Content-Length or chunk sizes)',
  ),
  requestTimeout: define(
    408,
    'request_timeout',
    () => 'request: the headers or the body did not arrive in time',
  ),
  headersTooLarge: define(431, 'headers_too_large', () => 'headers: larger than allowed'),
  unsupportedMediaType: define(
    415,
    'unsupported_media_type',
    (type: string) => `content-type ${type} is not accepted here; send application/json`,
  ),
  payloadTooLarge: define(
    413,
    'payload_too_large',
    (limit: number) => `request body is larger than the limit of ${limit} bytes`,
  ),
  rateLimited: define(
    429,
    'rate_limited',
    (quota: number, seconds: number) =>
      `this workspace sent more than ${quota} requests in ${seconds} s; retry after Retry-After seconds`,
  ),
  notReady: define(503, 'not_ready', (detail: string) => detail),
  internal: define(
    500,
    'internal_error',
    () => 'internal error; see the server log for this request id',
  ),
} as const
