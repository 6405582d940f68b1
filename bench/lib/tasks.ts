import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export type PeerName = 'hookline' | 'graphile' | 'pgboss'

export type Task =
  | { name: 'setup'; peer: PeerName; url: string }
  | { name: 'bulkEnqueue'; peer: PeerName; url: string; total: number; batch: number }
  | { name: 'drain'; peer: PeerName; url: string; total: number }
  | { name: 'latency'; peer: PeerName; url: string; count: number }

export interface TaskResult {
  /** Wall time of the timed part. */
  seconds?: number
  /** Jobs handled (drain). */
  ran?: number
  /** add → handler start, one per job (latency). */
  samplesMs?: number[]
  /** How the peer was configured, for the printout. */
  conditions?: string
  /** CPU seconds of the task's Node process over the timed part. */
  nodeCpuSeconds?: number
}

/**
 * Runs a task in a fresh Node process, so peers share no JIT, GC, pool or
 * global pg type-parser state, and a crashed peer cannot take the run down.
 */
export function runTask(task: Task): Promise<TaskResult> {
  const child = fork(
    fileURLToPath(new URL('./task-child.ts', import.meta.url)),
    [JSON.stringify(task)],
    {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  // Settles once the child has exited, so its database sessions are gone too
  // (their CPU time is then on the postmaster's account).
  return new Promise((resolve, reject) => {
    let message: { result?: TaskResult; error?: string } | undefined
    child.on('message', (m: typeof message) => {
      message = m
    })
    child.on('exit', (code) => {
      if (message?.result) resolve(message.result)
      else
        reject(new Error(`${task.peer} ${task.name}: ${message?.error ?? `exited with ${code}`}`))
    })
  })
}
