// The first start's API key is a secret: it must never reach the log stream.
// Under a container or a pipe stdout is that stream, so the key goes to a
// 0600 file in DATA_DIR and the log names the file; on a terminal it is printed.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { handOverBootstrapKey } from '../../src/workspaces/welcome.js'
import { startService } from '../faults/helpers.js'
import { build } from '../helpers/app.js'

// A real start, slow on a loaded machine.
t.setTimeout(300_000)

t.test('started with stdout piped: the key goes to a 0600 file, never to the log', async (t) => {
  const { app, database } = await build(t)
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-bootstrap-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const service = startService(t, database.url, {
    ROLE: 'all',
    BOOTSTRAP_WORKSPACE: 'true',
    DATA_DIR: dataDir,
  })
  const line = await service.waitForLine(/default workspace created/, 180_000)
  const file = JSON.parse(line).file as string
  t.equal(path.dirname(file), dataDir, 'the log names a file in DATA_DIR')
  t.equal((await stat(file)).mode & 0o777, 0o600, 'readable by the service user only')
  const key = /API key\s+(hl_\S+)/.exec(await readFile(file, 'utf8'))?.[1]
  t.ok(key, 'the file holds the key')
  const res = await app.inject({
    url: '/v1/workspace',
    headers: { authorization: `Bearer ${key}` },
  })
  t.equal(res.statusCode, 200, 'and the key works')
  service.child.kill('SIGTERM')
  await service.exited
  t.same(
    service.lines.filter((l) => l.includes(key as string) || /hl_[a-z0-9]{8}_/.test(l)),
    [],
    'no output line holds an API key',
  )
})

t.test('on a terminal the key is printed and no file is written', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-bootstrap-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  let printed = ''
  const terminal = { isTTY: true, write: (text: string) => (printed += text) }
  const welcome = { baseUrl: 'http://127.0.0.1:3000', workspaceId: 'ws_1', key: 'hl_abc_def' }
  const file = await handOverBootstrapKey(welcome, terminal, dataDir)
  t.equal(file, undefined)
  t.match(printed, /curl -H "Authorization: Bearer hl_abc_def" http:\/\/127\.0\.0\.1:3000/)
  await t.rejects(stat(path.join(dataDir, 'bootstrap-api-key.txt')), { code: 'ENOENT' })
})
