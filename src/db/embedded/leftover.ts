import { readlinkSync } from 'node:fs'
import { readFile, realpath, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { commandLine, identify, isAlive, isSame, type ProcessIdentity } from './process-identity.js'

/** Who started the cluster now running in a data folder: this Hookline and its postmaster. */
interface Owner {
  hookline: ProcessIdentity
  postgres: ProcessIdentity
}

const ownerFile = (dataDir: string) => path.join(dataDir, 'postgres.owner')

export async function recordOwner(dataDir: string, postgresPid: number) {
  const hookline = identify(process.pid)
  const postgres = identify(postgresPid)
  if (!hookline || !postgres) return
  await writeFile(ownerFile(dataDir), `${JSON.stringify({ hookline, postgres } satisfies Owner)}\n`)
}

/**
 * Before starting, look at the cluster's lock file. A postgres still running
 * on this cluster was either started by a Hookline that still runs (a
 * second `npm start` on the same DATA_DIR: refuse, naming it) or left behind
 * by one that died (kill -9, OOM): stop it (a fast shutdown, as Hookline's
 * own stop does) and start afresh. A lock file whose pid now belongs to an
 * unrelated process would make postgres refuse to start: remove it.
 */
export async function clearLeftover(
  dataDir: string,
  databaseDir: string,
  log: (line: string) => void,
): Promise<void> {
  const lock = path.join(databaseDir, 'postmaster.pid')
  const text = await readFile(lock, 'utf8').catch(() => undefined)
  if (!text) return
  const pid = Number(text.split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return // postgres handles a dead pid
  if (!(await runsCluster(pid, databaseDir))) {
    log(`removing ${lock}: its pid ${pid} now belongs to another program`)
    await rm(lock, { force: true })
    return
  }
  const owner = await readOwner(dataDir)
  if (owner && owner.hookline.pid !== process.pid && isSame(owner.hookline))
    throw new Error(
      `DATA_DIR ${dataDir} is in use by another Hookline (pid ${owner.hookline.pid}) and its PostgreSQL (pid ${pid}): stop that one first, or give this one its own DATA_DIR and EMBEDDED_PG_PORT (and PORT)`,
    )
  log(
    `a PostgreSQL (pid ${pid}) left running by a Hookline that is gone holds ${databaseDir}: stopping it`,
  )
  await stopProcess(pid)
}

async function runsCluster(pid: number, databaseDir: string): Promise<boolean> {
  const args = commandLine(pid)
  if (!args) return true // no /proc to tell: trust the lock file, as postgres does
  if (path.basename(args[0] ?? '') !== 'postgres') return false
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === (await realpath(databaseDir))
  } catch {
    return args.includes(databaseDir)
  }
}

async function readOwner(dataDir: string): Promise<Owner | undefined> {
  try {
    return JSON.parse(await readFile(ownerFile(dataDir), 'utf8')) as Owner
  } catch {
    return undefined
  }
}

/** SIGINT (fast shutdown), then SIGQUIT (immediate), then SIGKILL; waits for the exit. */
async function stopProcess(pid: number) {
  for (const [signal, waitMs] of [
    ['SIGINT', 30_000],
    ['SIGQUIT', 10_000],
    ['SIGKILL', 10_000],
  ] as const) {
    try {
      process.kill(pid, signal)
    } catch {
      return
    }
    for (let waited = 0; waited < waitMs && isAlive(pid); waited += 100) await sleep(100)
    if (!isAlive(pid)) return
  }
  throw new Error(`the PostgreSQL left running (pid ${pid}) does not stop: stop it by hand`)
}
