// A request's logger is made only when a line is written (src/http/request-logger.ts):
// what it writes is what Fastify's own child writes, request id and redaction included.
import { Writable } from 'node:stream'
import t from 'tap'
import { requestLoggerFactory } from '../../src/http/request-logger.js'
import { createLogger } from '../../src/logger.js'

function capture(level: 'warn' | 'info') {
  const lines: Record<string, unknown>[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  const factory = requestLoggerFactory as unknown as (
    logger: unknown,
    bindings: Record<string, unknown>,
    options: Record<string, unknown>,
  ) => {
    info(obj: unknown, msg?: string): void
    error(obj: unknown, msg?: string): void
    warn(msg: string): void
    level: string
    child(bindings: Record<string, unknown>): { warn(msg: string): void }
  }
  const parent = createLogger({ logLevel: level }, sink)
  return { lines, log: factory(parent, { request_id: 'req-1' }, {}) }
}

t.test('at warn, lines below it are dropped and the rest carry the request id', async (t) => {
  const { lines, log } = capture('warn')
  t.equal(log.level, 'warn')
  log.info({ code: 'x' }, 'request rejected')
  t.equal(lines.length, 0, 'info is below the level')
  log.error({ handler: { token: 'hl_secret' } }, 'request failed')
  log.child({ job: 'j1' }).warn('slow')
  t.equal(lines.length, 2)
  t.match(lines[0], {
    level: 50,
    request_id: 'req-1',
    msg: 'request failed',
    handler: { token: '[Redacted]' },
  })
  t.match(lines[1], { level: 40, request_id: 'req-1', job: 'j1', msg: 'slow' })
})

t.test('at info, each request line carries the request id', async (t) => {
  const { lines, log } = capture('info')
  log.info({ code: 'x' }, 'request rejected')
  t.match(lines, [{ level: 30, request_id: 'req-1', code: 'x', msg: 'request rejected' }])
})
