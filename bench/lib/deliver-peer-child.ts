// A peer of `npm run bench:deliver` in a fresh process (see deliver-peers.ts):
// `bare` sends the POSTs in a plain undici.request loop; `graphile` runs a
// graphile-worker runner whose task sends one POST per job; `graphile-front`
// is graphile's front door, a Fastify route that takes the body Hookline's
// POST /v1/events/batch takes and queues one job per event with addJobs.
import { performance } from 'node:perf_hooks'
import Fastify from 'fastify'
import { makeWorkerUtils, run } from 'graphile-worker'
import { Agent, request } from 'undici'
import { type LeadEvent, leadEvent, PEER_SECRET, peerRequest } from './deliver-workload.js'

export type PeerTask =
  | { peer: 'bare'; receiverUrl: string; concurrency: number; total: number; warmup: number }
  | { peer: 'graphile'; databaseUrl: string; receiverUrl: string; concurrency: number }
  | { peer: 'graphile-front'; databaseUrl: string }

export type PeerMessage =
  | { type: 'done'; seconds: number; failed: number; cpuSeconds: number }
  | { type: 'listening'; url: string }
  | { type: 'ready'; conditions: string }
  | { type: 'warm'; conditions: string }
  | { type: 'stopped'; ran: number; failed: number }
  | { type: 'error'; error: string }

const task = JSON.parse(process.argv[2]!) as PeerTask
const reply = (message: PeerMessage) =>
  new Promise<void>((resolve) => process.send?.(message, () => resolve()))

// The same pool as Hookline's sender (src/net/http-sender.ts).
const agent = new Agent({
  keepAliveTimeout: 10_000,
  keepAliveMaxTimeout: 60_000,
  connections: 64,
  pipelining: 1,
})

async function post(url: string, event: LeadEvent, msgId: string): Promise<number> {
  const { body, headers } = peerRequest(event, msgId, PEER_SECRET)
  const res = await request(url, { method: 'POST', headers, body, dispatcher: agent })
  await res.body.dump()
  return res.statusCode
}

/** The physical limit: `concurrency` loops sending back to back, nothing else. */
async function bare(t: Extract<PeerTask, { peer: 'bare' }>) {
  const url = `${t.receiverUrl}/hooks/lead`
  let failed = 0
  const loop = async (total: number) => {
    let next = 0
    await Promise.all(
      Array.from({ length: t.concurrency }, async () => {
        while (next < total) {
          const i = next++
          const status = await post(url, leadEvent(i), `msg_${i}`)
          if (status < 200 || status >= 300) failed++
        }
      }),
    )
  }
  // Untimed, like the other senders' warm-up: connections open, code compiled.
  await loop(t.warmup)
  await reply({ type: 'warm', conditions: '' })
  await new Promise((resolve) => process.once('message', resolve))
  const started = performance.now()
  const cpu = process.cpuUsage()
  await loop(t.total)
  const used = process.cpuUsage(cpu)
  await reply({
    type: 'done',
    seconds: (performance.now() - started) / 1000,
    failed,
    cpuSeconds: (used.user + used.system) / 1e6,
  })
  await agent.close()
}

// graphile-worker's performance page: a local queue and batched completion;
// `concurrency` as Hookline's WORKER_CONCURRENCY.
const localQueueSize = 500
const quiet = {
  scope: () => quiet,
  error: (message: string) => process.stderr.write(`graphile: ${message}\n`),
  warn: () => {},
  info: () => {},
  debug: () => {},
}

async function graphile(t: Extract<PeerTask, { peer: 'graphile' }>) {
  const url = `${t.receiverUrl}/hooks/lead`
  let ran = 0
  let failed = 0
  const runner = await run({
    connectionString: t.databaseUrl,
    concurrency: t.concurrency,
    maxPoolSize: 25,
    noHandleSignals: true,
    logger: quiet as never,
    preset: {
      worker: {
        localQueue: { size: localQueueSize },
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
      },
    },
    taskList: {
      deliver: async (payload, helpers) => {
        const { event } = payload as { event: LeadEvent }
        const status = await post(url, event, `msg_${helpers.job.id}`)
        ran++
        if (status < 200 || status >= 300) {
          failed++
          throw new Error(`receiver answered ${status}`)
        }
      },
    },
  })
  const { createRequire } = await import('node:module')
  const version = createRequire(import.meta.url)('graphile-worker/package.json').version
  await reply({
    type: 'ready',
    conditions: `graphile-worker ${version}: concurrency ${t.concurrency}, maxPoolSize 25, localQueue.size ${localQueueSize}, completeJobBatchDelay 0`,
  })
  process.on('message', async () => {
    await runner.stop()
    await agent.close()
    await reply({ type: 'stopped', ran, failed })
    process.exit(0)
  })
}

/** The front door: as Hookline's API process, JSON in, durable, answered. */
async function graphileFront(t: Extract<PeerTask, { peer: 'graphile-front' }>) {
  const utils = await makeWorkerUtils({ connectionString: t.databaseUrl })
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 })
  app.post('/events/batch', async (request, reply) => {
    const { events } = request.body as { events: LeadEvent[] }
    const jobs = await utils.addJobs(
      events.map((event) => ({ identifier: 'deliver', payload: { event } })),
    )
    return reply.code(202).send({ data: jobs.map((job) => ({ id: job.id })) })
  })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  await reply({ type: 'listening', url })
  process.on('message', async () => {
    await app.close()
    await utils.release()
    await reply({ type: 'stopped', ran: 0, failed: 0 })
    process.exit(0)
  })
}

try {
  if (task.peer === 'bare') await bare(task)
  else if (task.peer === 'graphile-front') await graphileFront(task)
  else await graphile(task)
} catch (err) {
  await reply({ type: 'error', error: (err as Error).stack ?? String(err) })
  process.exit(1)
}
