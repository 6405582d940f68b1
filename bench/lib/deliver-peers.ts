import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { PeerMessage, PeerTask } from './deliver-peer-child.js'

function forkPeer(task: PeerTask): { child: ChildProcess; next: () => Promise<PeerMessage> } {
  const child = fork(
    fileURLToPath(new URL('./deliver-peer-child.ts', import.meta.url)),
    [JSON.stringify(task)],
    { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  )
  const inbox: PeerMessage[] = []
  let waiter: ((m: PeerMessage) => void) | undefined
  let exitCode: number | null | undefined
  child.on('message', (m: PeerMessage) => {
    if (waiter) {
      const w = waiter
      waiter = undefined
      w(m)
    } else inbox.push(m)
  })
  child.on('exit', (code) => {
    exitCode = code
    waiter?.({ type: 'error', error: `${task.peer} peer exited (${code})` })
  })
  const next = () =>
    new Promise<PeerMessage>((resolve, reject) => {
      const m = inbox.shift()
      if (m) return m.type === 'error' ? reject(new Error(m.error)) : resolve(m)
      if (exitCode !== undefined) return reject(new Error(`${task.peer} peer exited (${exitCode})`))
      waiter = (m) => (m.type === 'error' ? reject(new Error(m.error)) : resolve(m))
    })
  return { child, next }
}

/**
 * The bare undici loop, in its own process: `warmup` POSTs untimed, then
 * `beforeTimed()` (e.g. resetting the receiver's count), then the seconds for
 * `total` POSTs at `concurrency`.
 */
export async function runBare(
  receiverUrl: string,
  concurrency: number,
  counts: { warmup: number; total: number },
  beforeTimed: () => Promise<void>,
) {
  const { child, next } = forkPeer({ peer: 'bare', receiverUrl, concurrency, ...counts })
  const warm = await next()
  if (warm.type !== 'warm') throw new Error(`bare peer: unexpected ${warm.type}`)
  await beforeTimed()
  child.send('go')
  const m = await next()
  if (m.type !== 'done') throw new Error(`bare peer: unexpected ${m.type}`)
  return { seconds: m.seconds, failed: m.failed, cpuSeconds: m.cpuSeconds }
}

/** graphile-worker's front door (see deliver-peer-child.ts) in its own process. */
export async function startGraphileFront(databaseUrl: string) {
  const { child, next } = forkPeer({ peer: 'graphile-front', databaseUrl })
  const listening = await next()
  if (listening.type !== 'listening')
    throw new Error(`graphile front: unexpected ${listening.type}`)
  return {
    pid: child.pid as number,
    url: listening.url,
    async stop() {
      child.send('stop')
      const m = await next()
      if (m.type !== 'stopped') throw new Error(`graphile front: unexpected ${m.type}`)
    },
  }
}

/** A graphile-worker runner in its own process; jobs are added by the caller. */
export async function startGraphile(databaseUrl: string, receiverUrl: string, concurrency: number) {
  const { child, next } = forkPeer({ peer: 'graphile', databaseUrl, receiverUrl, concurrency })
  const ready = await next()
  if (ready.type !== 'ready') throw new Error(`graphile peer: unexpected ${ready.type}`)
  return {
    pid: child.pid as number,
    conditions: ready.conditions,
    async stop() {
      child.send('stop')
      const m = await next()
      if (m.type !== 'stopped') throw new Error(`graphile peer: unexpected ${m.type}`)
      return { ran: m.ran, failed: m.failed }
    },
  }
}
