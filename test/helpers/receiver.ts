import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'

export interface Received {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

export type Responder = (req: Received, res: ServerResponse) => void

/**
 * A real HTTP receiver on 127.0.0.1: records every request and answers with
 * `respond` (default 200 `{"ok":true}`). `waitFor(n)` resolves once n requests arrived;
 * `open()` and `mostOpen()` count requests not yet answered (or dropped), now and at most.
 */
export async function startReceiver(t: Test, respond?: Responder) {
  const received: Received[] = []
  const waiters: { n: number; resolve: () => void }[] = []
  let responder: Responder =
    respond ??
    ((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"ok":true}')
    })
  let connections = 0
  let open = 0
  let mostOpen = 0
  const server = createServer((req, res) => {
    open++
    mostOpen = Math.max(mostOpen, open)
    res.on('close', () => open--)
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const entry = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }
      received.push(entry)
      responder(entry, res)
      for (const w of [...waiters]) {
        if (received.length >= w.n) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve()
        }
      }
    })
  })
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    connections: () => connections,
    open: () => open,
    mostOpen: () => mostOpen,
    respondWith(next: Responder) {
      responder = next
    },
    waitFor(n: number, timeoutMs = 15_000): Promise<void> {
      if (received.length >= n) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`receiver got ${received.length} of ${n} requests`)),
          timeoutMs,
        )
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        })
      })
    },
  }
}

/** Polls until `check` holds (or fails the wait). For state reached asynchronously by workers. */
export async function eventually<T>(
  check: () => Promise<T> | T,
  timeoutMs = 15_000,
): Promise<Exclude<T, undefined | null | false>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value as Exclude<T, undefined | null | false>
    if (Date.now() > deadline) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 25))
  }
}
