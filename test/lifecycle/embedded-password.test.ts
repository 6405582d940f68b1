// The embedded cluster has no fixed password (#17 item 8): initdb gets a
// random one, kept in DATA_DIR with mode 0600, and a cluster made with the
// old fixed `hookline` password is moved to a random one on its next start.
import { readFile, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import t from 'tap'
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js'
import { place } from './helpers.js'

t.setTimeout(600_000)

async function login(port: number, password: string): Promise<string> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'hookline',
    password,
    database: 'postgres',
  })
  try {
    await client.connect()
    return 'ok'
  } catch (err) {
    return (err as { code?: string }).code ?? String(err)
  } finally {
    await client.end().catch(() => {})
  }
}

t.test('a random password in a 0600 file; the old fixed one is refused', async (t) => {
  const where = await place(t)
  const file = path.join(where.dataDir, 'postgres-password')
  let cluster = await startEmbeddedPostgres({ dataDir: where.dataDir, port: where.pgPort })
  t.teardown(() => cluster.stop())
  t.equal((await stat(file)).mode & 0o777, 0o600, 'the password file is 0600')
  const password = (await readFile(file, 'utf8')).trim()
  t.ok(password.length >= 32, 'a long random password')
  t.equal(await login(where.pgPort, password), 'ok', 'the file holds the password')
  t.equal(await login(where.pgPort, 'hookline'), '28P01', 'hookline/hookline no longer works')
  t.equal(new URL(cluster.connectionString()).password, password, 'Hookline connects with it')

  // What an older Hookline left: the fixed password and no file.
  const client = new pg.Client({ connectionString: cluster.connectionString() })
  await client.connect()
  await client.query(`alter role hookline password 'hookline'`)
  await client.end()
  await cluster.stop()
  await rm(file)

  cluster = await startEmbeddedPostgres({ dataDir: where.dataDir, port: where.pgPort })
  const moved = (await readFile(file, 'utf8')).trim()
  t.equal((await stat(file)).mode & 0o777, 0o600, 'the old cluster got a 0600 password file')
  t.not(moved, 'hookline')
  t.equal(await login(where.pgPort, moved), 'ok', 'and that password')
  t.equal(await login(where.pgPort, 'hookline'), '28P01', 'the fixed one is refused from now on')
})
