// The webhook receiver of `npm run bench:deliver`, in its own process so its
// work is not charged to any sender. It reads each request's body, answers
// 200 (at once, or after `delayMs`), and counts. With tracing on, it reports
// when each request arrived (CLOCK_MONOTONIC, comparable across processes) by
// its `webhook-id`. The parent drives it over IPC (see deliver-receiver-client.ts).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ReceiverCommand, ReceiverReply } from './deliver-receiver-client.js'

let delayMs = 0
let trace = false
let seen = 0
let connections = 0
// Requests read but not yet answered: how many the sender has in flight.
let inflight = 0

const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6
const send = (reply: ReceiverReply) => process.send?.(reply)

const server = createServer((req, res) => {
  seen++
  if (trace) {
    const id = req.headers['webhook-id']
    send({ type: 'seen', id: typeof id === 'string' ? id : '', atMs: monotonicMs() })
  }
  inflight++
  req.resume()
  req.on('end', () => {
    const answer = () => {
      inflight--
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' })
      res.end('{"ok":true}')
    }
    if (delayMs > 0) setTimeout(answer, delayMs)
    else answer()
  })
})
server.on('connection', () => connections++)
// Senders keep connections open between bursts; close idle ones late, not after node's 5 s.
server.keepAliveTimeout = 60_000

process.on('message', (command: ReceiverCommand) => {
  switch (command.type) {
    case 'configure':
      delayMs = command.delayMs
      trace = command.trace
      break
    case 'count':
      send({ type: 'count', seen, connections, inflight })
      break
    case 'reset':
      seen = 0
      connections = 0
      send({ type: 'count', seen, connections, inflight })
      break
  }
})
process.on('disconnect', () => process.exit(0))

server.listen(0, '127.0.0.1', () => {
  send({ type: 'listening', port: (server.address() as AddressInfo).port })
})
