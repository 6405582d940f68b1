import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify'

type Bindings = Record<string, unknown>
/** The process's logger is pino's (logger.ts), which answers isLevelEnabled. */
type Logger = FastifyBaseLogger & { isLevelEnabled(level: string): boolean }
type ChildOptions = { level?: string; serializers?: unknown }
type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * A request's logger, made only when something is logged. Fastify gives
 * every request a child logger bound to its request id; with pino's
 * redaction that costs a serialization of the bindings per request, even
 * when the level logs nothing a request says (LOG_LEVEL=warn, the request
 * answered without error). This one holds the bindings and makes the child
 * the first time a line at an enabled level is written, so a log line is the
 * same as before, `request_id` included.
 */
class RequestLogger {
  readonly #parent: Logger
  readonly #bindings: Bindings
  readonly #options: ChildOptions
  #child: Logger | undefined

  constructor(parent: Logger, bindings: Bindings, options: ChildOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  #real(): Logger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options as never) as Logger
    return this.#child
  }

  #write(level: Level, args: unknown[]): void {
    if (!this.#parent.isLevelEnabled(level)) return
    ;(this.#real()[level] as (...a: unknown[]) => void)(...args)
  }

  fatal(...args: unknown[]) {
    this.#write('fatal', args)
  }
  error(...args: unknown[]) {
    this.#write('error', args)
  }
  warn(...args: unknown[]) {
    this.#write('warn', args)
  }
  info(...args: unknown[]) {
    this.#write('info', args)
  }
  debug(...args: unknown[]) {
    this.#write('debug', args)
  }
  trace(...args: unknown[]) {
    this.#write('trace', args)
  }
  silent() {}

  get level(): string {
    return this.#child?.level ?? this.#parent.level
  }
  set level(level: string) {
    this.#real().level = level
  }

  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.#parent).isLevelEnabled(level)
  }

  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options as never)
  }

  bindings(): Bindings {
    return (this.#real() as unknown as { bindings(): Bindings }).bindings()
  }
}

/**
 * Fastify's `childLoggerFactory`. A real child at once where it will be used
 * anyway: when the level logs each request (`info` and below: Fastify's
 * "incoming request" and "request completed"), or a route sets its own level
 * or serializers.
 */
export const requestLoggerFactory = ((
  logger: Logger,
  bindings: Bindings,
  options: ChildOptions,
) => {
  if (options.level || options.serializers || logger.isLevelEnabled('info')) {
    return logger.child(bindings, options as never)
  }
  return new RequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger
}) as unknown as NonNullable<FastifyServerOptions['childLoggerFactory']>
