// The embedded cluster is supervised (#18 item 6): killed under a running
// Hookline it is started again and the service comes back by itself; when
// it cannot be started again, /healthz says the process is unhealthy.
import { rename } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { eventually } from '../helpers/receiver.js'
import { place, postmasterPid, readyz, run, untilReady } from './helpers.js'

t.setTimeout(600_000)

t.test('a killed cluster is restarted; one that cannot be is reported by /healthz', async (t) => {
  const where = await place(t)
  const hookline = run(t, where)
  await untilReady(where)

  const first = postmasterPid(where.dataDir) as number
  process.kill(first, 'SIGKILL')
  await hookline.waitForLine(/embedded PostgreSQL stopped unexpectedly: restarting it/)
  await hookline.waitForLine(/"msg":"embedded PostgreSQL restarted"/)
  await untilReady(where)
  t.pass('ready again, by itself')
  t.not(postmasterPid(where.dataDir), first, 'on a new postmaster')
  t.equal(await readyz(where, '/healthz'), 200, 'and healthy')

  // Now take the cluster away from under it: no restart can succeed.
  const second = postmasterPid(where.dataDir) as number
  await rename(path.join(where.dataDir, 'pg'), path.join(where.dataDir, 'pg-away'))
  process.kill(second, 'SIGKILL')
  await eventually(async () => (await readyz(where, '/healthz')) === 503, 120_000)
  const res = await fetch(`http://127.0.0.1:${where.port}/healthz`)
  t.match(
    await res.json(),
    { status: 'unhealthy', reason: /embedded PostgreSQL stopped and 3 restarts failed/ },
    '/healthz says why',
  )
  t.ok(
    hookline.lines.some((l) => /embedded PostgreSQL restart failed/.test(l)),
    'each failed restart is logged',
  )
  hookline.child.kill('SIGTERM')
  t.equal((await hookline.exited).code, 0, 'it still stops cleanly')
})
