import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { overBudget } from './render-budget.js'
import type { RenderTask } from './render-worker.js'
import { TemplateError, type TemplateErrorCode } from './template-error.js'

/**
 * Where templates that may cost more than their data (loops, ranges,
 * filters over arrays: see template-shape.ts) render: worker threads, so no
 * template holds the event loop. What a thread runs is named by the caller
 * (`RenderJob`: a module and one of its exports, taking plain data), so a
 * rule's request (outbound) and a handler's answer (inbound) share the
 * threads without this module knowing either. Liquid checks the budget
 * between nodes and loop iterations; a single filter over a huge array is
 * not interrupted that way, so a render still running at twice its budget
 * (and a grace) has its thread stopped (`terminate`) and replaced, and fails
 * with the budget's reason, naming the part it was rendering.
 *
 * Half the cores (at least one): a tenant whose templates keep their thread
 * busy takes those, never the event loop's. Renders wait their turn by
 * workspace, one of each in turn, so a workspace with many queued renders
 * delays another's by one render each, not by all of them.
 */

export const RENDER_THREADS = Math.max(1, Math.floor(availableParallelism() / 2))
// Added to twice the budget before a thread is stopped: Liquid's own check
// answers first, with the template's name, unless one step is stuck; a
// thread that merely waited for a busy core is not stopped for it (its
// replacement would cost more than the wait).
const STOP_GRACE_MS = 250

/** What to render on a thread: `name`, exported by `module` (a file URL), called with `input`. */
export interface RenderJob {
  module: string
  name: string
  input: unknown
  budgetMs: number
  /** What each part the function notes it is rendering is called, for a stopped render's reason. */
  parts: readonly string[]
}

interface Pending {
  task: RenderTask
  parts: readonly string[]
  /** Whose turn it takes: renders are taken one of each key in turn. */
  key: string
  resolve: (result: unknown) => void
  reject: (err: Error) => void
}

type Answer =
  | { id: number; result: unknown }
  | { id: number; error: { code: TemplateErrorCode; message: string } }

class RenderThread {
  readonly worker: Worker
  readonly part = new Int32Array(new SharedArrayBuffer(4))
  ready = false
  current: Pending | undefined
  timer: NodeJS.Timeout | undefined
  /** Modules this thread has loaded: loading one is not part of any render's time. */
  readonly loaded = new Set<string>()

  constructor(readonly pool: RenderPool) {
    this.worker = startWorker(this.part.buffer as SharedArrayBuffer)
    this.worker.on('message', (message: Answer | { ready: true } | { loaded: string }) => {
      if ('ready' in message) {
        this.ready = true
        pool.dispatch()
      } else if ('loaded' in message) {
        this.loaded.add(message.loaded)
        if (this.current) this.start(this.current)
      } else {
        this.settle(message)
      }
    })
    // A thread that died on its own (out of memory, a bug): its render fails, another takes its place.
    this.worker.on('error', (err) => this.lost(err))
    this.worker.on('exit', () => this.lost(new Error('the render thread stopped')))
  }

  run(pending: Pending) {
    this.current = pending
    // A module not loaded yet is loaded first (a failure to load answers the task's id).
    if (!this.loaded.has(pending.task.module)) {
      this.worker.postMessage({ load: pending.task.module, id: pending.task.id })
      return
    }
    this.start(pending)
  }

  start(pending: Pending) {
    const { budgetMs } = pending.task
    this.timer = setTimeout(() => this.stop(), budgetMs * 2 + STOP_GRACE_MS)
    this.worker.postMessage(pending.task)
  }

  settle(answer: Answer) {
    const pending = this.current
    if (!pending || pending.task.id !== answer.id) return
    clearTimeout(this.timer)
    this.current = undefined
    if ('result' in answer) pending.resolve(answer.result)
    else pending.reject(new TemplateError(answer.error.code, answer.error.message))
    this.pool.dispatch()
  }

  /** Past twice its budget: the render is stuck inside one step; the thread goes. */
  stop() {
    const pending = this.current
    if (!pending) return
    this.current = undefined
    const part = pending.parts[Atomics.load(this.part, 0)] ?? 'the template'
    pending.reject(overBudget(pending.task.budgetMs, part))
    this.pool.replace(this)
  }

  lost(err: Error) {
    const pending = this.current
    this.current = undefined
    clearTimeout(this.timer)
    pending?.reject(new TemplateError('template_render', `rendering failed: ${err.message}`))
    this.pool.replace(this)
  }
}

/** Under tsx (tests, `npm run dev`) the worker is TypeScript and needs tsx's loader too. */
function startWorker(part: SharedArrayBuffer): Worker {
  const source = import.meta.url.endsWith('.ts')
  const entry = new URL(`./render-worker.${source ? 'ts' : 'js'}`, import.meta.url)
  const options = { workerData: { part } }
  if (!source) return new Worker(entry, options)
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}) })`
  return new Worker(boot, { ...options, eval: true })
}

class RenderPool {
  #threads: RenderThread[] = []
  /** Waiting renders by key; a Map keeps insertion order, so the first key's turn is next. */
  #queues = new Map<string, Pending[]>()
  #nextId = 1

  render(job: RenderJob, key: string): Promise<unknown> {
    while (this.#threads.length < RENDER_THREADS) this.#threads.push(new RenderThread(this))
    return new Promise((resolve, reject) => {
      const queue = this.#queues.get(key)
      const { parts, ...task } = job
      const pending = { task: { ...task, id: this.#nextId++ }, parts, key, resolve, reject }
      if (queue) queue.push(pending)
      else this.#queues.set(key, [pending])
      this.dispatch()
    })
  }

  /** The next render: the oldest of the key whose turn it is; that key goes to the back. */
  #next(): Pending | undefined {
    for (const [key, queue] of this.#queues) {
      const pending = queue.shift()
      this.#queues.delete(key)
      if (queue.length > 0) this.#queues.set(key, queue)
      if (pending) return pending
    }
    return undefined
  }

  dispatch() {
    for (const thread of this.#threads) {
      if (this.#queues.size > 0 && thread.ready && !thread.current) {
        const pending = this.#next()
        if (pending) thread.run(pending)
      }
    }
    // Threads keep the process up only while there is a render to wait for.
    const busy = this.#queues.size > 0 || this.#threads.some((thread) => thread.current)
    for (const thread of this.#threads) {
      if (busy) thread.worker.ref()
      else thread.worker.unref()
    }
  }

  replace(thread: RenderThread) {
    const at = this.#threads.indexOf(thread)
    if (at === -1) return
    thread.worker.removeAllListeners()
    // An error listener stays: a thread stopped mid-render may still report.
    thread.worker.on('error', () => {})
    void thread.worker.terminate()
    this.#threads[at] = new RenderThread(this)
    this.dispatch()
  }
}

let pool: RenderPool | undefined

/**
 * Runs a render job on a render thread, within its budget, in its turn
 * among the waiting renders of other keys (workspaces). Throws TemplateError.
 */
export function renderOnThread<T>(job: RenderJob, key: string): Promise<T> {
  pool ??= new RenderPool()
  return pool.render(job, key) as Promise<T>
}
