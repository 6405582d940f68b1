// The heap limit the service runs with (issue 21: a worker draining a backlog
// stays under 300 MB). On a host with much memory V8's default limit is 2 GiB
// or more, and past 2 GiB V8 lets the old generation grow to four times what
// a full collection found live before it collects again, against about two
// below it. `npm start` and the image set the limit on node's command line;
// both must say the same.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import t from 'tap'

const root = new URL('../../', import.meta.url)
const startScript: string = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).scripts
  .start
const dockerCmd = /^CMD (\[.*\])$/m.exec(readFileSync(new URL('Dockerfile', root), 'utf8'))?.[1]

/** The words between `node` and `dist/server.js`. */
const flagsOf = (words: string[]) =>
  words.slice(words.indexOf('node') + 1, words.indexOf('dist/server.js'))

t.test('npm start and the image run node with the same flags', async (t) => {
  t.ok(dockerCmd, 'the Dockerfile has an exec-form CMD')
  t.same(flagsOf(JSON.parse(dockerCmd as string)), flagsOf(startScript.split(/\s+/)))
})

t.test('their heap limit is under 2 GiB, where V8 would let the heap grow fourfold', async (t) => {
  const flags = flagsOf(startScript.split(/\s+/))
  const limit = Number(
    execFileSync(
      process.execPath,
      [...flags, '-p', 'require("node:v8").getHeapStatistics().heap_size_limit'],
      { encoding: 'utf8', env: { PATH: process.env.PATH } },
    ),
  )
  t.ok(limit < 2 * 2 ** 30, `heap_size_limit ${Math.round(limit / 2 ** 20)} MiB`)
})
