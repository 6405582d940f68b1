import { connect } from 'node:net'
import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import type { TestDatabase } from '../helpers/database.js'

/**
 * Asserts the one error shape, `{ statusCode, code, error, message }` (plus
 * `errors`, each problem listed, when validation failed), and answers it.
 */
export function assertError(
  t: Test,
  res: { statusCode: number | null; body: string },
  status: number,
  message: RegExp,
  what: string,
) {
  if (res.statusCode === status) t.pass(`${what}: ${status}`)
  else t.fail(`${what}: ${status} expected, got ${res.statusCode} ${res.body.slice(0, 300)}`)
  let body: Record<string, unknown> = {}
  try {
    body = JSON.parse(res.body)
  } catch {
    t.fail(`${what}: the answer is JSON`)
  }
  const listed = body.code === 'validation_failed'
  t.same(
    Object.keys(body).sort(),
    ['code', 'error', ...(listed ? ['errors'] : []), 'message', 'statusCode'],
    `${what}: shape`,
  )
  if (listed) {
    const problems = body.errors as { path: string; code: string; message: string }[]
    t.ok(problems.length > 0, `${what}: problems listed`)
    t.ok(
      problems.every((p) => typeof p.path === 'string' && /^[a-z_]+$/.test(p.code) && p.message),
      `${what}: each problem has a path, a code and a message`,
    )
  }
  t.equal(body.statusCode, status, `${what}: statusCode`)
  t.match(body.code, /^[a-z_]+$/, `${what}: a stable code`)
  t.match(body.message, message, `${what}: message`)
  return body as { statusCode: number; code: string; error: string; message: string }
}

export type InjectResponse = LightMyRequestResponse

/**
 * What the API lets a tenant change, as one comparable value: row counts of
 * every table and the newest update time of each that has one. Equal before
 * and after a refused request means it changed nothing.
 */
export async function snapshot(database: TestDatabase) {
  const { rows: tables } = await database.pool.query<{ table_name: string }>(
    `select table_name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' and table_name <> 'hookline_migrations'
    order by table_name`,
  )
  const state: Record<string, unknown> = {}
  for (const { table_name } of tables) {
    const { rows: cols } = await database.pool.query<{ column_name: string }>(
      `select column_name from information_schema.columns
      where table_schema = 'public' and table_name = $1 and column_name = 'updated_at'`,
      [table_name],
    )
    const updated = cols.length > 0 ? ', max(updated_at)::text as updated' : ''
    const { rows } = await database.pool.query(
      `select count(*)::int as n${updated} from ${table_name}`,
    )
    state[table_name] = rows[0]
  }
  return state
}

export interface RawResponse {
  /** The status line's code, or null when the server sent nothing. */
  statusCode: number | null
  headers: Record<string, string>
  body: string
  /** The server closed the connection. */
  closed: boolean
}

/**
 * Speaks HTTP by hand over a real socket: writes each part (a function part
 * is awaited, for pauses), then reads until the server closes the
 * connection or `waitMs` passes. For what `inject` cannot do: lying framing,
 * trickled headers and bodies.
 */
export function rawHttp(
  port: number,
  parts: (string | Buffer | (() => Promise<void>))[],
  waitMs = 15_000,
): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let closed = false
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve(parse(Buffer.concat(chunks).toString('utf8'), closed))
    }
    const timer = setTimeout(finish, waitMs)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', () => {})
    socket.on('close', () => {
      closed = true
      finish()
    })
    socket.on('connect', async () => {
      for (const part of parts) {
        if (socket.destroyed) break
        if (typeof part === 'function') await part()
        else socket.write(part)
      }
    })
  })
}

function parse(text: string, closed: boolean): RawResponse {
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) return { statusCode: null, headers: {}, body: '', closed }
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const at = line.indexOf(':')
    headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim()
  }
  let body = text.slice(end + 4)
  if (headers['transfer-encoding'] === 'chunked') body = unchunk(body)
  else if (headers['content-length']) body = body.slice(0, Number(headers['content-length']))
  return { statusCode: Number(statusLine.split(' ')[1]), headers, body, closed }
}

function unchunk(text: string): string {
  let out = ''
  let rest = text
  for (;;) {
    const line = rest.indexOf('\r\n')
    const size = Number.parseInt(rest.slice(0, line), 16)
    if (!(size > 0)) return out
    out += rest.slice(line + 2, line + 2 + size)
    rest = rest.slice(line + 2 + size + 2)
  }
}

export const pause = (ms: number) => () => new Promise<void>((r) => setTimeout(r, ms))
