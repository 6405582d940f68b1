import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export type ReceiverCommand =
  | { type: 'configure'; delayMs: number; trace: boolean }
  | { type: 'count' }
  | { type: 'reset' }

export type ReceiverReply =
  | { type: 'listening'; port: number }
  | { type: 'count'; seen: number; connections: number; inflight: number }
  | { type: 'seen'; id: string; atMs: number }

export interface Counts {
  seen: number
  connections: number
  /** Requests read and not yet answered. */
  inflight: number
}

export interface Receiver {
  url: string
  pid: number
  configure(options: { delayMs: number; trace: boolean }): void
  /** Requests seen and connections opened since the last reset; requests in flight now. */
  count(): Promise<Counts>
  reset(): Promise<void>
  /** Called for every request while tracing is on, with its arrival time (CLOCK_MONOTONIC ms). */
  onSeen(listener: (id: string, atMs: number) => void): () => void
  /** Resolves once `n` requests were seen since the last reset (polls every `everyMs`). */
  waitForCount(n: number, options?: { everyMs?: number; timeoutMs?: number }): Promise<void>
  stop(): Promise<void>
}

/** Same clock as the receiver's: CLOCK_MONOTONIC, shared by every process on the host. */
export const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6

/** Starts the receiver (deliver-receiver.ts) in its own process. */
export async function startReceiver(): Promise<Receiver> {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('./deliver-receiver.ts', import.meta.url)),
    [],
    { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  )
  const seenListeners = new Set<(id: string, atMs: number) => void>()
  let countWaiter: ((reply: Counts) => void) | undefined
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`receiver exited (${code})`)))
    child.on('message', (reply: ReceiverReply) => {
      if (reply.type === 'listening') resolve(reply.port)
      else if (reply.type === 'seen') for (const l of seenListeners) l(reply.id, reply.atMs)
      else if (reply.type === 'count') {
        const waiter = countWaiter
        countWaiter = undefined
        waiter?.({ seen: reply.seen, connections: reply.connections, inflight: reply.inflight })
      }
    })
  })
  child.removeAllListeners('exit')

  function ask(command: ReceiverCommand) {
    return new Promise<Counts>((resolve) => {
      countWaiter = resolve
      child.send(command)
    })
  }
  // One question at a time: replies carry no id.
  let queue: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn)
    queue = next.catch(() => {})
    return next
  }
  const count = () => serial(() => ask({ type: 'count' }))

  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    configure: ({ delayMs, trace }) => child.send({ type: 'configure', delayMs, trace }),
    count,
    reset: () => serial(() => ask({ type: 'reset' })).then(() => undefined),
    onSeen(listener) {
      seenListeners.add(listener)
      return () => seenListeners.delete(listener)
    },
    async waitForCount(n, { everyMs = 100, timeoutMs = 30 * 60_000 } = {}) {
      const deadline = Date.now() + timeoutMs
      while ((await count()).seen < n) {
        if (Date.now() > deadline) throw new Error(`receiver: fewer than ${n} requests in time`)
        await sleep(everyMs)
      }
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
