import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import type { Test } from 'tap'

const BINARY = '/usr/sbin/pgbouncer'

export interface Pooler {
  /** `postgres://…` of `database` through the pooler. */
  url: string
  /** Everything PgBouncer logged so far. */
  log: string[]
}

/**
 * Debian's PgBouncer as a real process in transaction mode, in front of the
 * database `directUrl` names, on a free 127.0.0.1 port; config and auth file
 * in a temporary folder, all gone when the test ends. Transaction mode is
 * what the managed poolers offer: each transaction may run on a different
 * server connection, so no session state (named prepared statements, LISTEN,
 * session advisory locks, SET) survives from one to the next.
 *
 * PgBouncer refuses to run as root; as root it runs as the `postgres` system
 * user, which the embedded PostgreSQL creates.
 */
export async function startPgbouncer(t: Test, directUrl: string): Promise<Pooler> {
  if (!existsSync(BINARY)) {
    throw new Error(`${BINARY} is missing: apt-get install pgbouncer (.ci/run does)`)
  }
  const direct = new URL(directUrl)
  const user = decodeURIComponent(direct.username)
  const password = decodeURIComponent(direct.password)
  const database = direct.pathname.slice(1)
  const port = await freePort()
  const dir = await mkdtemp(path.join(tmpdir(), 'hookline-pgbouncer-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const quote = (s: string) => `"${s.replaceAll('"', '""')}"`
  await writeFile(path.join(dir, 'userlist.txt'), `${quote(user)} ${quote(password)}\n`)
  await writeFile(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${database} = host=${direct.hostname} port=${direct.port} dbname=${database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 500',
      // As many server connections as the service's pool (DATABASE_POOL_SIZE).
      'default_pool_size = 20',
      // Server sessions carry the client's application_name plus its address,
      // so a session opened directly is told apart from one through here.
      'application_name_add_host = 1',
      'ignore_startup_parameters = extra_float_digits,options',
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
  )
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    await chmod(dir, 0o755)
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString())
    for (const file of ['userlist.txt', 'pgbouncer.ini']) {
      await chmod(path.join(dir, file), 0o600)
      execFileSync('chown', [`${uid}:${gid}`, path.join(dir, file)])
    }
  }
  const child: ChildProcess = spawn(
    BINARY,
    [...(asRoot ? ['-u', 'postgres'] : []), path.join(dir, 'pgbouncer.ini')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const log: string[] = []
  const collect = (chunk: Buffer) => log.push(...chunk.toString('utf8').split('\n').filter(Boolean))
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  let alive = true
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      alive = false
      resolve()
    }),
  )
  t.teardown(async () => {
    if (alive) child.kill('SIGTERM')
    await exited
  })

  const url = new URL(directUrl)
  url.port = String(port)
  // Ready once a query goes through.
  for (let tries = 0; ; tries++) {
    if (!alive) throw new Error(`pgbouncer exited:\n${log.join('\n')}`)
    const client = new pg.Client({ connectionString: url.toString() })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.query('select 1')
      await client.end()
      break
    } catch (err) {
      await client.end().catch(() => {})
      if (tries > 300)
        throw new Error(`pgbouncer not ready: ${(err as Error).message}\n${log.join('\n')}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return { url: url.toString(), log }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
