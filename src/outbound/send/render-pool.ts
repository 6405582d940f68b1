import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { RuleRow } from '../../db/tables/rules.js'
import type { RuleAuthInput } from '../../schemas/rules.js'
import { overBudget } from '../../templates/render-budget.js'
import { TemplateError, type TemplateErrorCode } from '../../templates/template-error.js'
import { type DeliveryRecord, type OutboundRequest, REQUEST_PARTS } from './build-request.js'
import type { RenderTask } from './render-worker.js'

/**
 * Where templates that may cost more than their record (loops, ranges,
 * filters over arrays: see templates/template-shape.ts) render: worker
 * threads, so no template holds the event loop. Liquid checks the budget
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

interface Pending {
  task: RenderTask
  /** Whose turn it takes: renders are taken one of each key in turn. */
  key: string
  resolve: (request: OutboundRequest) => void
  reject: (err: Error) => void
}

type Answer =
  | { id: number; request: OutboundRequest }
  | { id: number; error: { code: TemplateErrorCode; message: string } }

class RenderThread {
  readonly worker: Worker
  readonly part = new Int32Array(new SharedArrayBuffer(4))
  ready = false
  current: Pending | undefined
  timer: NodeJS.Timeout | undefined

  constructor(readonly pool: RenderPool) {
    this.worker = startWorker(this.part.buffer as SharedArrayBuffer)
    this.worker.on('message', (message: Answer | { ready: true }) => {
      if ('ready' in message) {
        this.ready = true
        pool.dispatch()
        return
      }
      this.settle(message)
    })
    // A thread that died on its own (out of memory, a bug): its render fails, another takes its place.
    this.worker.on('error', (err) => this.lost(err))
    this.worker.on('exit', () => this.lost(new Error('the render thread stopped')))
  }

  run(pending: Pending) {
    this.current = pending
    const { budgetMs } = pending.task
    this.timer = setTimeout(() => this.stop(), budgetMs * 2 + STOP_GRACE_MS)
    this.worker.postMessage(pending.task)
  }

  settle(answer: Answer) {
    const pending = this.current
    if (!pending || pending.task.id !== answer.id) return
    clearTimeout(this.timer)
    this.current = undefined
    if ('request' in answer) pending.resolve(answer.request)
    else pending.reject(new TemplateError(answer.error.code, answer.error.message))
    this.pool.dispatch()
  }

  /** Past twice its budget: the render is stuck inside one step; the thread goes. */
  stop() {
    const pending = this.current
    if (!pending) return
    this.current = undefined
    const part = REQUEST_PARTS[Atomics.load(this.part, 0)] ?? 'the template'
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

  render(task: Omit<RenderTask, 'id'>, key: string): Promise<OutboundRequest> {
    while (this.#threads.length < RENDER_THREADS) this.#threads.push(new RenderThread(this))
    return new Promise((resolve, reject) => {
      const queue = this.#queues.get(key)
      const pending = { task: { ...task, id: this.#nextId++ }, key, resolve, reject }
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
 * Renders a rule's request, unsigned, on a render thread, within `budgetMs`,
 * in its turn among the waiting renders of other keys (workspaces).
 */
export function renderOffThread(
  request: RuleRow['request'],
  records: DeliveryRecord | DeliveryRecord[],
  credentials: RuleAuthInput,
  budgetMs: number,
  key: string,
): Promise<OutboundRequest> {
  pool ??= new RenderPool()
  return pool.render({ request, records, credentials, budgetMs }, key)
}
