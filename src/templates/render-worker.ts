import { parentPort, workerData } from 'node:worker_threads'
import { RenderBudget, withinBudget } from './render-budget.js'
import { TemplateError } from './template-error.js'

/**
 * A render-pool thread (render-pool.ts): runs the render function a task
 * names (an export of a module, loaded once) within the budget it is given.
 * The function is handed `notePart`; the part it says it is rendering is
 * kept in shared memory, so the pool can name it if it has to stop the
 * thread mid-render.
 */

export interface RenderTask {
  id: number
  module: string
  name: string
  input: unknown
  budgetMs: number
}

type RenderFunction = (input: unknown, notePart: (part: number) => void) => unknown

const part = new Int32Array(workerData.part as SharedArrayBuffer)
const port = parentPort
if (!port) throw new Error('render-worker runs as a worker thread')
const modules = new Map<string, Record<string, unknown>>()
const notePart = (at: number) => Atomics.store(part, 0, at)

port.on('message', async (task: RenderTask | { load: string; id: number }) => {
  if ('load' in task) {
    // Loading is not rendering: the pool starts the task's clock once this answers.
    try {
      modules.set(task.load, (await import(task.load)) as Record<string, unknown>)
      port.postMessage({ loaded: task.load })
    } catch (err) {
      port.postMessage({ id: task.id, error: { code: 'template_render', message: String(err) } })
    }
    return
  }
  Atomics.store(part, 0, 0)
  try {
    const render = modules.get(task.module)?.[task.name] as RenderFunction
    const result = withinBudget(new RenderBudget(task.budgetMs), () => render(task.input, notePart))
    port.postMessage({ id: task.id, result })
  } catch (err) {
    const code = err instanceof TemplateError ? err.code : 'template_render'
    port.postMessage({ id: task.id, error: { code, message: (err as Error).message } })
  }
})
port.postMessage({ ready: true })
