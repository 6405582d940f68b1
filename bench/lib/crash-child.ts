// The worker that gets killed in the crash measurement (bench/queue.ts): it
// claims jobs whose handlers never finish, tells the parent once it holds
// `count` of them, and waits for SIGKILL. Default lease, as in production
// unless LEASE_MS says otherwise (the --quick run shortens it).
import { connectDatabase } from '../../src/db/database.js'
import { createWorker } from '../../src/queue/index.js'

const [url, count] = [process.argv[2]!, Number(process.argv[3])]
const leaseMs = process.argv[4] ? Number(process.argv[4]) : undefined
const database = connectDatabase(url, { max: 4 })
let started = 0
const worker = createWorker({
  pool: database.pool,
  connectionString: url,
  concurrency: count,
  batchSize: count,
  leaseMs,
  workerId: 'doomed',
  handlers: {
    work: () => {
      if (++started === count) process.send?.({ holding: started })
      return new Promise<void>(() => {})
    },
  },
})
await worker.start()
