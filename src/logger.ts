import pino from 'pino'
import type { Config } from './config.js'
import { LOOKS_LIKE_CREDENTIAL } from './security/credential-names.js'
import { redactQuery } from './security/redact-query.js'

/**
 * Paths pino replaces with "[Redacted]". Credentials arrive in these headers;
 * services must not log secrets in other fields (they log ids instead).
 */
export const logRedactPaths = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.secret',
  '*.token',
  '*.key',
  '*.signing_secret',
  '*.databaseUrl',
  '*.databaseListenUrl',
  '*.databaseReadUrl',
  '*.operatorToken',
  '*.encryptionKey',
]

/**
 * How Fastify logs a request (it takes ours over its own): its fields, but a
 * public endpoint's URL carries secrets — the token in `/in/<token>`, and a
 * sender's query may hold its shared secret — so those are masked.
 */
export function requestLogFields(req: {
  method: string
  url: string
  host?: string
  ip?: string
  socket?: { remotePort?: number }
}) {
  return {
    method: req.method,
    url: maskInboundUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }
}

/** In logs, `?key=` and `?sig=` are masked too: a log line is no place to guess. */
const LOGGED_SECRET_NAME = new RegExp(`${LOOKS_LIKE_CREDENTIAL.source}|^(key|sig|signature)$`, 'i')

/**
 * A public endpoint's token and whole query are masked; elsewhere the values
 * of secret-looking parameters (`?api_key=hl_…`, any `hl_` key whatever its
 * name), so a caller who puts a key in the URL does not leave it in the log.
 */
export function maskInboundUrl(url: string): string {
  if (!url.startsWith('/in/')) return redactQuery(url, '[Redacted]', LOGGED_SECRET_NAME)
  return url.replace(/^\/in\/[^/?]*/, '/in/[Redacted]').replace(/\?.*$/, '?[Redacted]')
}

/** The process's logger, to stdout; tests pass a destination to read what it wrote. */
export function createLogger(
  config: Pick<Config, 'logLevel'>,
  destination?: pino.DestinationStream,
) {
  const options = {
    level: config.logLevel,
    redact: { paths: logRedactPaths, censor: '[Redacted]' },
    serializers: { req: requestLogFields },
    timestamp: pino.stdTimeFunctions.isoTime,
  }
  return destination ? pino(options, destination) : pino(options)
}
