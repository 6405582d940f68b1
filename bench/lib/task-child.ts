// The child side of runTask (tasks.ts): one task, one peer, one fresh process.
import type { Task, TaskResult } from './tasks.js'

const task = JSON.parse(process.argv[2]!) as Task

async function peer(): Promise<Record<string, (task: Task) => Promise<TaskResult>>> {
  // Imported on demand: a hookline child never loads graphile-worker or pg-boss, and so on.
  if (task.peer === 'hookline') return (await import('./peer-hookline.js')) as never
  if (task.peer === 'graphile') return (await import('./peer-graphile.js')) as never
  return (await import('./peer-pgboss.js')) as never
}

try {
  const run = (await peer())[task.name]
  if (!run) throw new Error(`${task.peer} has no ${task.name} task`)
  const result = await run(task)
  process.send?.({ result }, () => process.exit(0))
} catch (err) {
  process.send?.({ error: (err as Error).stack ?? String(err) }, () => process.exit(1))
}
