import { type Static, Type } from 'typebox'
import { Value } from 'typebox/value'

// Every environment variable Hookline reads, with its default. The README's
// configuration table is written from this list; keep them in step.
const ConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  host: Type.String({ minLength: 1 }),
  databaseUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  databaseListenUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  databaseReadUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  databasePreparedStatements: Type.Boolean(),
  dataDir: Type.String({ minLength: 1 }),
  embeddedPostgresPort: Type.Integer({ minimum: 1, maximum: 65535 }),
  operatorToken: Type.Optional(Type.String({ minLength: 16 })),
  publicBaseUrl: Type.String({ pattern: '^https?://' }),
  logLevel: Type.Union([
    Type.Literal('fatal'),
    Type.Literal('error'),
    Type.Literal('warn'),
    Type.Literal('info'),
    Type.Literal('debug'),
    Type.Literal('trace'),
    Type.Literal('silent'),
  ]),
  role: Type.Union([Type.Literal('api'), Type.Literal('worker'), Type.Literal('all')]),
  databasePoolSize: Type.Integer({ minimum: 1, maximum: 1000 }),
  bodyLimitBytes: Type.Integer({ minimum: 1024 }),
  requestTimeoutMs: Type.Integer({ minimum: 1000 }),
  keepAliveTimeoutMs: Type.Integer({ minimum: 1000 }),
  shutdownTimeoutMs: Type.Integer({ minimum: 0 }),
  bootstrapWorkspace: Type.Boolean(),
  encryptionKey: Type.Optional(Type.String({ minLength: 44 })),
  outboundAllowList: Type.String(),
  workerConcurrency: Type.Integer({ minimum: 1, maximum: 2000 }),
  workerConcurrencyPerHost: Type.Integer({ minimum: 1, maximum: 2000 }),
  queueLeaseMs: Type.Integer({ minimum: 500, maximum: 10 * 60_000 }),
  responseBodyLimitBytes: Type.Integer({ minimum: 0, maximum: 10 * 1024 * 1024 }),
  ruleAutoDisableHours: Type.Integer({ minimum: 1 }),
  templateRenderBudgetMs: Type.Integer({ minimum: 1, maximum: 10_000 }),
  massPostBodyLimitBytes: Type.Integer({ minimum: 1024 }),
  trustProxy: Type.String({ pattern: '^(?:true|false|[0-9]+|[0-9A-Fa-f:./, ]+)$' }),
  apiRatePerMinute: Type.Integer({ minimum: 0 }),
  inboundRatePerToken: Type.Integer({ minimum: 0 }),
  inboundRatePerAddress: Type.Integer({ minimum: 0 }),
  inboundMissesPerAddress: Type.Integer({ minimum: 0 }),
  inboundBodyTimeoutMs: Type.Integer({ minimum: 100 }),
  inboundLookupTimeoutMs: Type.Integer({ minimum: 100, maximum: 30_000 }),
  inboundStoredBodyBytes: Type.Integer({ minimum: 0, maximum: 10 * 1024 * 1024 }),
  inboundHandlerCacheMs: Type.Integer({ minimum: 0, maximum: 60_000 }),
  apiKeyCacheMs: Type.Integer({ minimum: 0, maximum: 60_000 }),
  inboundMaxDepth: Type.Integer({ minimum: 1, maximum: 1000 }),
  inboundMaxValues: Type.Integer({ minimum: 1 }),
  inboundMaxParameters: Type.Integer({ minimum: 1 }),
  metricsToken: Type.Optional(Type.String({ minLength: 16 })),
  metricsWorkspaceLabels: Type.Boolean(),
  outboundProxyUrl: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+/?$' })),
})

export type Config = Readonly<Static<typeof ConfigSchema>>

type Env = Record<string, string | undefined>

/** Thrown at boot; names the variable so the operator knows what to fix. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

// variable name → [config key, parser]; a parser throws on malformed text.
const variables = {
  PORT: ['port', int],
  HOST: ['host', str],
  DATABASE_URL: ['databaseUrl', str],
  DATABASE_LISTEN_URL: ['databaseListenUrl', str],
  DATABASE_READ_URL: ['databaseReadUrl', str],
  DATABASE_PREPARED_STATEMENTS: ['databasePreparedStatements', bool],
  DATA_DIR: ['dataDir', str],
  EMBEDDED_PG_PORT: ['embeddedPostgresPort', int],
  OPERATOR_TOKEN: ['operatorToken', str],
  PUBLIC_BASE_URL: ['publicBaseUrl', str],
  LOG_LEVEL: ['logLevel', str],
  ROLE: ['role', str],
  DATABASE_POOL_SIZE: ['databasePoolSize', int],
  BODY_LIMIT_BYTES: ['bodyLimitBytes', int],
  REQUEST_TIMEOUT_MS: ['requestTimeoutMs', int],
  KEEP_ALIVE_TIMEOUT_MS: ['keepAliveTimeoutMs', int],
  SHUTDOWN_TIMEOUT_MS: ['shutdownTimeoutMs', int],
  BOOTSTRAP_WORKSPACE: ['bootstrapWorkspace', bool],
  ENCRYPTION_KEY: ['encryptionKey', str],
  OUTBOUND_ALLOW_LIST: ['outboundAllowList', str],
  WORKER_CONCURRENCY: ['workerConcurrency', int],
  WORKER_CONCURRENCY_PER_HOST: ['workerConcurrencyPerHost', int],
  QUEUE_LEASE_MS: ['queueLeaseMs', int],
  RESPONSE_BODY_LIMIT_BYTES: ['responseBodyLimitBytes', int],
  RULE_AUTO_DISABLE_HOURS: ['ruleAutoDisableHours', int],
  TEMPLATE_RENDER_BUDGET_MS: ['templateRenderBudgetMs', int],
  MASS_POST_BODY_LIMIT_BYTES: ['massPostBodyLimitBytes', int],
  TRUST_PROXY: ['trustProxy', str],
  API_RATE_PER_MINUTE: ['apiRatePerMinute', int],
  API_KEY_CACHE_MS: ['apiKeyCacheMs', int],
  INBOUND_RATE_PER_TOKEN: ['inboundRatePerToken', int],
  INBOUND_RATE_PER_ADDRESS: ['inboundRatePerAddress', int],
  INBOUND_MISSES_PER_ADDRESS: ['inboundMissesPerAddress', int],
  INBOUND_BODY_TIMEOUT_MS: ['inboundBodyTimeoutMs', int],
  INBOUND_LOOKUP_TIMEOUT_MS: ['inboundLookupTimeoutMs', int],
  INBOUND_STORED_BODY_BYTES: ['inboundStoredBodyBytes', int],
  INBOUND_HANDLER_CACHE_MS: ['inboundHandlerCacheMs', int],
  INBOUND_MAX_DEPTH: ['inboundMaxDepth', int],
  INBOUND_MAX_VALUES: ['inboundMaxValues', int],
  INBOUND_MAX_PARAMETERS: ['inboundMaxParameters', int],
  METRICS_TOKEN: ['metricsToken', str],
  METRICS_WORKSPACE_LABELS: ['metricsWorkspaceLabels', bool],
  OUTBOUND_PROXY_URL: ['outboundProxyUrl', str],
} as const satisfies Record<string, [keyof Config, (raw: string) => unknown]>

export const configVariables = Object.keys(variables)

const defaults = {
  port: 3000,
  host: '127.0.0.1',
  dataDir: './data',
  embeddedPostgresPort: 54329,
  logLevel: 'info',
  role: 'all',
  databasePoolSize: 20,
  databasePreparedStatements: true,
  bodyLimitBytes: 1024 * 1024,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 72_000,
  shutdownTimeoutMs: 25_000,
  bootstrapWorkspace: true,
  outboundAllowList: '',
  workerConcurrency: 50,
  queueLeaseMs: 20_000,
  responseBodyLimitBytes: 64 * 1024,
  ruleAutoDisableHours: 120,
  templateRenderBudgetMs: 50,
  massPostBodyLimitBytes: 64 * 1024 * 1024,
  trustProxy: 'false',
  apiRatePerMinute: 6000,
  apiKeyCacheMs: 1000,
  metricsWorkspaceLabels: false,
  inboundRatePerToken: 200,
  inboundRatePerAddress: 1000,
  inboundMissesPerAddress: 10,
  inboundBodyTimeoutMs: 10_000,
  inboundLookupTimeoutMs: 3000,
  inboundStoredBodyBytes: 64 * 1024,
  inboundHandlerCacheMs: 1000,
  inboundMaxDepth: 32,
  inboundMaxValues: 20_000,
  inboundMaxParameters: 1000,
} satisfies Partial<Config>

/**
 * Reads the environment once, validates it and returns a frozen config.
 * `overrides` lets tests and scripts set values without touching process.env.
 */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const fromEnv: Record<string, unknown> = {}
  for (const [name, [key, parse]] of Object.entries(variables)) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    try {
      fromEnv[key] = parse(raw)
    } catch (err) {
      throw new ConfigError(`${name}: ${(err as Error).message}`)
    }
  }
  const candidate: Record<string, unknown> = { ...defaults, ...fromEnv, ...overrides }
  candidate.publicBaseUrl ??= `http://${candidate.host}:${candidate.port}`
  // A third of the slots: more than a rule may hold (a fifth), less than a
  // workspace (half), so several rules sending to one hanging host, in one
  // workspace or several, leave the rest of the slots to everyone else.
  candidate.workerConcurrencyPerHost ??= Math.max(
    1,
    Math.floor((candidate.workerConcurrency as number) / 3),
  )
  for (const error of Value.Errors(ConfigSchema, candidate)) {
    const key = error.instancePath.split('/')[1] ?? ''
    const name = Object.keys(variables).find(
      (n) => variables[n as keyof typeof variables][0] === key,
    )
    throw new ConfigError(
      `${name ?? key}: ${error.message} (got ${JSON.stringify(candidate[key])})`,
    )
  }
  return Object.freeze(candidate as Config)
}

function str(raw: string): string {
  return raw
}

function int(raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new Error(`expected a whole number, got "${raw}"`)
  return Number(raw)
}

function bool(raw: string): boolean {
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw new Error(`expected true or false, got "${raw}"`)
}
