// Stopping what the user started stops everything, gracefully (#18 item 5):
// `npm start` runs node with no shell between them, npm forwards SIGTERM and
// SIGINT, the embedded PostgreSQL sits in a process group of its own so a
// Ctrl-C reaches it only through Hookline's drain, and the Ctrl-C that node
// gets twice (from the terminal and from npm) counts once.
import t from 'tap'
import { isAlive } from '../../src/db/embedded/process-identity.js'
import { eventually } from '../helpers/receiver.js'
import { place, postmasterPid, run, untilReady } from './helpers.js'

// npm start compiles first when dist/ is older than src/ (not in CI: npm ci just did).
t.setTimeout(900_000)

const nodePid = (lines: string[]) =>
  Number(lines.map((l) => /"pid":(\d+).*"msg":"Server listening/.exec(l)?.[1]).find(Boolean))

for (const { name, signal } of [
  { name: 'SIGTERM to npm', signal: (npm: number, _node: number) => process.kill(npm, 'SIGTERM') },
  {
    name: 'SIGTERM to node',
    signal: (_npm: number, node: number) => process.kill(node, 'SIGTERM'),
  },
  // What a terminal does on Ctrl-C: SIGINT to the whole foreground group.
  { name: 'Ctrl-C (SIGINT to the group)', signal: (npm: number) => process.kill(-npm, 'SIGINT') },
]) {
  t.test(`${name} stops npm, node and PostgreSQL, gracefully`, async (t) => {
    const where = await place(t)
    const npm = run(t, where, { command: ['npm', 'start'], detached: true })
    await untilReady(where)
    const postgres = postmasterPid(where.dataDir) as number
    const node = nodePid(npm.lines)
    t.ok(node && postgres, `node ${node}, postgres ${postgres}`)

    signal(npm.child.pid as number, node)
    const exit = await npm.exited
    await eventually(() => !isAlive(node) && !isAlive(postgres), 60_000)
    t.pass('node and PostgreSQL are gone')
    t.equal(exit.code, 0, 'npm exits 0')
    t.ok(
      npm.lines.some((l) => /"msg":"stopped"/.test(l)),
      'node drained and stopped its PostgreSQL itself',
    )
    t.notOk(
      npm.lines.some((l) => /second signal/.test(l)),
      'one signal, not a "second signal" cut short',
    )
  })
}
