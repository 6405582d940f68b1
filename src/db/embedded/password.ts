import { randomBytes } from 'node:crypto'
import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'

/** What every embedded cluster's superuser had before clusters got their own. */
export const LEGACY_PASSWORD = 'hookline'

/**
 * The superuser password of the cluster in `dataDir`, kept in
 * `dataDir/postgres-password` (mode 0600, readable by Hookline's user only).
 */
export function passwordFile(dataDir: string) {
  return path.join(dataDir, 'postgres-password')
}

export async function readPassword(dataDir: string): Promise<string | undefined> {
  try {
    return (await readFile(passwordFile(dataDir), 'utf8')).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** A new random password, written before initdb uses it. */
export async function createPassword(dataDir: string): Promise<string> {
  const password = randomBytes(24).toString('base64url')
  await writeSecret(passwordFile(dataDir), password)
  return password
}

/**
 * A cluster made before passwords were generated has `hookline`/`hookline`,
 * which any local account could use. Give it a random password: written to
 * a side file first, so a start that dies between the ALTER and the rename
 * still knows it on the next try.
 */
export async function replaceLegacyPassword(
  dataDir: string,
  user: string,
  port: number,
): Promise<string> {
  const pending = `${passwordFile(dataDir)}.new`
  const earlier = (await readFile(pending, 'utf8').catch(() => '')).trim()
  const password = earlier || randomBytes(24).toString('base64url')
  if (!earlier) await writeSecret(pending, password)
  let client: pg.Client | undefined
  for (const current of [LEGACY_PASSWORD, password]) {
    const attempt = new pg.Client({
      host: '127.0.0.1',
      port,
      user,
      password: current,
      database: 'postgres',
    })
    try {
      await attempt.connect()
      client = attempt
      break
    } catch (err) {
      await attempt.end().catch(() => {})
      if ((err as { code?: string }).code !== '28P01') throw err
    }
  }
  if (!client)
    throw new Error(
      `the embedded PostgreSQL in ${dataDir} refuses its old password and ${passwordFile(dataDir)} is missing: restore that file, or move the cluster away to start a new one`,
    )
  try {
    await client.query(
      `alter role ${client.escapeIdentifier(user)} password ${client.escapeLiteral(password)}`,
    )
  } finally {
    await client.end()
  }
  await rename(pending, passwordFile(dataDir))
  return password
}

async function writeSecret(file: string, text: string) {
  await rm(file, { force: true })
  await writeFile(file, `${text}\n`, { flag: 'wx', mode: 0o600 })
  await chmod(file, 0o600)
}
