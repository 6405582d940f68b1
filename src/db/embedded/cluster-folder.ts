import { createHash } from 'node:crypto'
import { lstat, mkdir, readlink, symlink } from 'node:fs/promises'
import path from 'node:path'
import { SHARED_ROOT } from './binaries.js'
import { canEnter, type RunAs } from './postgres-user.js'

/**
 * Where the cluster of `dataDir` lives: `dataDir/pg`, unless the postgres
 * user cannot enter `dataDir` (a checkout under root's 0700 home or a
 * mktemp -d folder). A new cluster then goes to /var/lib/hookline/clusters/,
 * and `dataDir/pg` becomes a symlink to it, so the next start finds it.
 */
export async function clusterFolder(
  dataDir: string,
  runAs: RunAs | undefined,
  log: (line: string) => void,
): Promise<string> {
  const link = path.join(dataDir, 'pg')
  const stat = await lstat(link).catch(() => undefined)
  if (stat?.isSymbolicLink()) return path.resolve(dataDir, await readlink(link))
  if (canEnter(runAs, dataDir)) return link
  if (stat)
    throw new Error(
      `the postgres user cannot enter ${dataDir}, which holds the cluster ${link} (a folder above it is private): make every folder above it traversable (chmod o+x), or move DATA_DIR`,
    )
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 16)
  const elsewhere = path.join(SHARED_ROOT, 'clusters', hash)
  await mkdir(elsewhere, { recursive: true, mode: 0o755 })
  await symlink(path.join(elsewhere, 'pg'), link)
  log(
    `the postgres user cannot enter ${dataDir} (a folder above it is private): the cluster lives in ${elsewhere}/pg, linked from ${link}`,
  )
  return path.join(elsewhere, 'pg')
}
