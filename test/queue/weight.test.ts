import t, { type Test } from 'tap'
import { enqueue, type Job } from '../../src/queue/index.js'
import type { WorkerOptions } from '../../src/queue/types.js'
import type { TestDatabase } from '../helpers/database.js'
import { testDatabase } from '../helpers/database.js'
import { eventually, jobCount, startWorker } from './helpers.js'

/**
 * A worker whose `work` jobs (payload: a name) run until the test releases
 * them by name. It records which jobs have started, which are running, and the
 * most weight its handlers ever ran at once.
 */
async function holdingWorker(
  t: Test,
  database: TestDatabase,
  options: Pick<WorkerOptions, 'concurrency' | 'batchSize'>,
) {
  const running = new Map<string, Job>()
  const started: string[] = []
  const releases = new Map<string, () => void>()
  let peakWeight = 0
  // Registered before the worker starts: a failed assertion leaves no handler hanging.
  t.teardown(() => {
    for (const release of releases.values()) release()
  })
  const worker = await startWorker(t, database, {
    ...options,
    handlers: {
      work: async (job) => {
        const name = job.payload as string
        started.push(name)
        running.set(name, job)
        let weight = 0
        for (const run of running.values()) weight += run.weight
        peakWeight = Math.max(peakWeight, weight)
        await new Promise<void>((resolve) => releases.set(name, resolve))
        running.delete(name)
      },
    },
  })
  return {
    worker,
    started,
    /** The names of the jobs whose handlers are running, sorted. */
    running: () => [...running.keys()].sort(),
    job: (name: string) => running.get(name)!,
    peakWeight: () => peakWeight,
    /** Lets a running job's handler return, and waits until the worker has settled it. */
    async release(name: string) {
      const release = releases.get(name)
      if (!release || !running.has(name)) throw new Error(`${name} is not running`)
      releases.delete(name)
      const settled = worker.stats().succeeded + 1
      release()
      await eventually(() => worker.stats().succeeded >= settled, { what: `${name} to settle` })
    },
  }
}

const work = (name: string, weight: number) => ({ kind: 'work', payload: name, weight })

t.test('a worker never runs more weight than its concurrency', async (t) => {
  const database = await testDatabase(t)
  await enqueue(database.db, [work('h1', 3), work('h2', 3), work('h3', 3)])
  // The buffer has room for all three heavy jobs: only their weight keeps them waiting.
  const w = await holdingWorker(t, database, { concurrency: 4, batchSize: 12 })

  // Claimed in any order; one weight-3 job at a time, the next as the last settles.
  for (let i = 1; i <= 3; i++) {
    await eventually(() => w.started.length >= i && w.worker.stats().buffered === 3 - i, {
      what: `heavy job ${i} to start`,
    })
    t.equal(w.started.length, i, `${i} of the weight-3 jobs started`)
    t.equal(w.running().length, 1, 'one weight-3 job runs')
    t.equal(w.worker.stats().buffered, 3 - i, 'the others wait in the buffer')
    if (i < 3) await w.release(w.running()[0]!)
  }
  const last = w.running()[0]!

  // A weight-1 job fits beside the last weight-3 job: 3 + 1 = 4.
  await enqueue(database.db, [work('l1', 1)])
  await eventually(() => w.started.includes('l1'), { what: 'the weight-1 job to start' })
  t.same(w.running(), [last, 'l1'].sort(), 'a weight-3 and a weight-1 job run together')

  // Another weight-3 job does not: 4 + 3 > 4, and still 3 + 3 > 4 once the light one is done.
  await enqueue(database.db, [work('h4', 3)])
  await eventually(() => w.worker.stats().buffered === 1, { what: 'h4 to be claimed' })
  t.notOk(w.started.includes('h4'), 'h4 waits while 4 slots are busy')
  await w.release('l1')
  t.same(w.running(), [last], 'h4 waits while 3 of 4 slots are busy')
  t.equal(w.worker.stats().buffered, 1)

  await w.release(last)
  await eventually(() => w.started.includes('h4'), { what: 'h4 to start' })
  t.same(w.running(), ['h4'], 'h4 starts once the other weight-3 job settled')
  await w.release('h4')

  t.equal(w.peakWeight(), 4, 'at most 4 slots of weight ran at once')
  await eventually(async () => (await jobCount(database)) === 0, { what: 'completions' })
  t.match(w.worker.stats(), { started: 5, succeeded: 5, failed: 0 })
})

t.test(
  'pieceDone gives a slot back before the job settles, never more than its weight',
  async (t) => {
    const database = await testDatabase(t)
    await enqueue(database.db, [work('A', 3)])
    const w = await holdingWorker(t, database, { concurrency: 3, batchSize: 10 })
    await eventually(() => w.started.includes('A'), { what: 'A to start' })

    await enqueue(database.db, [work('B', 1)])
    await eventually(() => w.worker.stats().buffered === 1, { what: 'B to be claimed' })
    t.same(w.running(), ['A'], 'B waits: A holds all 3 slots')

    w.job('A').pieceDone()
    await eventually(() => w.started.includes('B'), { what: 'B to start' })
    t.same(w.running(), ['A', 'B'], 'one piece of A done: B runs while A still does')
    t.match(w.worker.stats(), { running: 2, buffered: 0 })

    // Six pieces in all from a job of weight 3: the last three give nothing back. A holds
    // no slot now and B one, so of four weight-1 jobs two fit, not five.
    for (let i = 0; i < 5; i++) w.job('A').pieceDone()
    const names = ['C1', 'C2', 'C3', 'C4']
    await enqueue(
      database.db,
      names.map((name) => work(name, 1)),
    )
    await eventually(() => w.worker.stats().running + w.worker.stats().buffered === 6, {
      what: 'the weight-1 jobs to be claimed',
    })
    t.match(w.worker.stats(), { running: 4, buffered: 2 }, 'A, B and two weight-1 jobs run')
    t.ok(w.running().includes('A'), 'A is still running')

    // A settles with nothing left to give back; B's slot goes to one more weight-1 job.
    await w.release('A')
    t.match(w.worker.stats(), { running: 3, buffered: 2 }, 'A settling frees no slot')
    await w.release('B')
    t.match(w.worker.stats(), { running: 3, buffered: 1 }, 'exactly 3 weight-1 jobs run')
    t.equal(w.running().filter((name) => name.startsWith('C')).length, 3)

    // Claimed in any order: release whichever runs, one at a time.
    for (let done = 0; done < names.length; done++) {
      await eventually(() => w.running().length > 0, { what: 'a weight-1 job to run' })
      t.ok(w.running().length <= 3, `at most 3 running with ${done} done`)
      await w.release(w.running()[0]!)
    }
    t.same(w.started.filter((name) => name.startsWith('C')).sort(), names, 'every C job ran')
    await eventually(async () => (await jobCount(database)) === 0, { what: 'completions' })
    t.match(w.worker.stats(), { started: 6, succeeded: 6, failed: 0 })
  },
)

t.test('a job heavier than the whole worker still runs, alone', async (t) => {
  const database = await testDatabase(t)
  await enqueue(database.db, [work('huge', 10)])
  const w = await holdingWorker(t, database, { concurrency: 2 })
  await eventually(() => w.started.includes('huge'), { what: 'the weight-10 job to start' })

  await enqueue(database.db, [work('small', 1)])
  await eventually(() => w.worker.stats().buffered === 1, { what: 'the small job to be claimed' })
  t.same(w.running(), ['huge'], 'nothing runs beside it')

  await w.release('huge')
  await eventually(() => w.started.includes('small'), { what: 'the small job to start' })
  t.same(w.running(), ['small'])
  await w.release('small')
  await eventually(async () => (await jobCount(database)) === 0, { what: 'completions' })
  t.match(w.worker.stats(), { started: 2, succeeded: 2, failed: 0 })
})
