/**
 * The floor under a single-event POST: a bare Fastify app in a process of its
 * own, whose one route parses the JSON body and answers 202 with a small JSON
 * document, as `POST /v1/events` does, with nothing else (no auth, no
 * validation, no database). It tells its parent the port it listens on.
 */
import Fastify from 'fastify'

const app = Fastify({ logger: false })
let n = 0
app.post('/v1/events', async (request, reply) => {
  const body = request.body as { type?: string }
  n++
  return reply.code(202).send({ id: `evt_${n}`, type: body.type, deliveries: [`dlv_${n}`] })
})
await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as { port: number }).port })
process.on('disconnect', () => {
  void app.close().then(() => process.exit(0))
})
