import { execFileSync, spawnSync } from 'node:child_process'

/** Who runs initdb and the server: nobody else when we are not root. */
export interface RunAs {
  uid: number
  gid: number
}

/**
 * PostgreSQL refuses to run as root. As root, the cluster runs as the
 * `postgres` system user, created (with its group) the first time if missing.
 */
export function postgresUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
  })
  try {
    return ids()
  } catch {
    execFileSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' })
    execFileSync('useradd', ['--system', '-g', 'postgres', 'postgres'], { stdio: 'ignore' })
    return ids()
  }
}

/** Whether that user can enter `dir`: every folder above it must be traversable. */
export function canEnter(runAs: RunAs | undefined, dir: string): boolean {
  if (!runAs) return true
  return (
    spawnSync('/bin/sh', ['-c', 'cd "$1"', 'sh', dir], { ...runAs, stdio: 'ignore' }).status === 0
  )
}

/** Whether that user can run `file` (`postgres --version`). */
export function canRun(runAs: RunAs | undefined, file: string): boolean {
  const run = spawnSync(file, ['--version'], { ...runAs, stdio: 'ignore' })
  return !run.error && run.status === 0
}
