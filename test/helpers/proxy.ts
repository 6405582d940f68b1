import { createServer, type IncomingHttpHeaders, request } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import type { Test } from 'tap'

/**
 * A tiny forward proxy on 127.0.0.1: plain-HTTP requests in absolute form are
 * forwarded, CONNECT opens a TCP tunnel. Notes every request it handles.
 */
export async function startProxy(t: Test) {
  const forwarded: { method: string; url: string }[] = []
  /** The headers of each forwarded request, as the proxy got them. */
  const headers: IncomingHttpHeaders[] = []
  const tunnels: string[] = []
  const server = createServer((req, res) => {
    forwarded.push({ method: req.method ?? '', url: req.url ?? '' })
    headers.push(req.headers)
    const target = new URL(req.url ?? '')
    const upstream = request(
      target,
      { method: req.method, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', () => res.writeHead(502).end())
    req.pipe(upstream)
  })
  server.on('connect', (req, socket, head) => {
    tunnels.push(req.url ?? '')
    const [host, port] = (req.url ?? '').split(':')
    const upstream = connect(Number(port), host === 'localhost' ? '127.0.0.1' : host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(socket)
      socket.pipe(upstream)
    })
    upstream.on('error', () => socket.destroy())
    socket.on('error', () => upstream.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwarded,
    headers,
    tunnels,
  }
}
