import { parentPort, workerData } from 'node:worker_threads'
import type { RuleRow } from '../../db/tables/rules.js'
import type { RuleAuthInput } from '../../schemas/rules.js'
import { RenderBudget, withinBudget } from '../../templates/render-budget.js'
import { TemplateError } from '../../templates/template-error.js'
import { type DeliveryRecord, renderRuleRequest } from './build-request.js'

/**
 * A render-pool thread (render-pool.ts): renders a rule's request within the
 * budget it is given. The part it is rendering
 * is kept in shared memory, so the pool can name it if it has to stop the
 * thread mid-render.
 */

export interface RenderTask {
  id: number
  request: RuleRow['request']
  records: DeliveryRecord | DeliveryRecord[]
  credentials: RuleAuthInput
  budgetMs: number
}

const part = new Int32Array(workerData.part as SharedArrayBuffer)
const port = parentPort
if (!port) throw new Error('render-worker runs as a worker thread')

port.on('message', (task: RenderTask) => {
  Atomics.store(part, 0, 0)
  try {
    const request = withinBudget(new RenderBudget(task.budgetMs), () =>
      renderRuleRequest({ request: task.request }, task.records, task.credentials, (at) =>
        Atomics.store(part, 0, at),
      ),
    )
    // A URL object does not cross threads; the caller parses the string.
    const { target: _, ...plain } = request
    port.postMessage({ id: task.id, request: plain })
  } catch (err) {
    const code = err instanceof TemplateError ? err.code : 'template_render'
    port.postMessage({ id: task.id, error: { code, message: (err as Error).message } })
  }
})
port.postMessage({ ready: true })
