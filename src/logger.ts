import pino from 'pino'
import type { Config } from './config.js'

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
  '*.operatorToken',
  '*.encryptionKey',
]

export function createLogger(config: Pick<Config, 'logLevel'>) {
  return pino({
    level: config.logLevel,
    redact: { paths: logRedactPaths, censor: '[Redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  })
}
