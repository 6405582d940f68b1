// Start, stop and start again as an operator meets it in the first week
// (#18 item 3): a second start on a busy data folder or port says what is
// wrong in one line; after kill -9 the next start recovers by itself.
import { createServer } from 'node:net'
import t from 'tap'
import { isAlive } from '../../src/db/embedded/process-identity.js'
import { eventually } from '../helpers/receiver.js'
import { freePort, place, postmasterPid, readyz, run, untilReady } from './helpers.js'

t.setTimeout(600_000)

const failure = (lines: string[]) => lines.filter((l) => l.startsWith('hookline: failed to start'))

t.test(
  'kill -9, then npm start again: the leftover PostgreSQL is stopped and all comes back',
  async (t) => {
    const where = await place(t)
    const first = run(t, where)
    await untilReady(where)
    const leftover = postmasterPid(where.dataDir) as number
    first.child.kill('SIGKILL')
    await first.exited
    t.ok(isAlive(leftover), 'the dead Hookline left its PostgreSQL running')

    const second = run(t, where)
    await untilReady(where)
    t.notOk(isAlive(leftover), 'the leftover was stopped')
    t.not(postmasterPid(where.dataDir), leftover, 'a PostgreSQL of its own runs the cluster')
    t.ok(
      second.lines.some((l) => /left running by a Hookline that is gone/.test(l)),
      'the log says what it found',
    )

    // The same DATA_DIR while that one runs (on another PORT): refused.
    const third = run(t, { ...where, port: await freePort() })
    t.equal((await third.exited).code, 1, 'a second start on the same folder exits 1')
    t.match(
      failure(third.lines),
      [/DATA_DIR .* is in use by another Hookline \(pid \d+\).*stop that one first/],
      'in one line saying what to do',
    )
    t.equal(await readyz(where), 200, 'the running one still serves')

    const pid = postmasterPid(where.dataDir) as number
    second.child.kill('SIGTERM')
    t.same(await second.exited, { code: 0, signal: null }, 'SIGTERM: a clean exit')
    t.notOk(isAlive(pid), 'with its PostgreSQL stopped')
  },
)

t.test('a busy port is said in one line, and the cluster it started is stopped', async (t) => {
  const where = await place(t)
  const squatter = createServer().listen(where.pgPort, '127.0.0.1')
  t.teardown(() => squatter.close())
  const pgBusy = run(t, where)
  t.equal((await pgBusy.exited).code, 1)
  t.match(failure(pgBusy.lines), [/port \d+ .*EMBEDDED_PG_PORT.* taken by another program/])
  squatter.close()

  const http = createServer().listen(where.port, '127.0.0.1')
  t.teardown(() => http.close())
  const httpBusy = run(t, where)
  await httpBusy.waitForLine(/hookline: failed to start/)
  t.equal((await httpBusy.exited).code, 1)
  t.match(failure(httpBusy.lines), [/PORT \d+ on 127\.0\.0\.1 is in use by another program/])
  await eventually(() => postmasterPid(where.dataDir) === undefined, 60_000)
  t.pass('the PostgreSQL it had started is stopped')
})
