import { sql } from 'kysely'
import type { Db } from '../../db/database.js'

/** Statements one purge run makes at most: 100 × 10,000 claims, 16,000 a second at one run a minute. */
const MAX_STATEMENTS = 100

/**
 * Deletes claims that expired a while ago, `limit` per statement so each
 * stays short, statement after statement until none is left (or
 * MAX_STATEMENTS were made; the next run goes on). Expired claims are
 * harmless meanwhile (a new claim takes them over); this only keeps the
 * table from growing past what the protection periods hold. Returns how many
 * were deleted.
 */
export async function purgeExpiredClaims(db: Db, limit = 10_000): Promise<number> {
  let purged = 0
  for (let statement = 0; statement < MAX_STATEMENTS; statement++) {
    const result = await sql`
      delete from inbound_claims
      where ctid = any(array(
        select ctid from inbound_claims
        where expires_at < now() - interval '1 minute'
        limit ${limit}
      ))`.execute(db)
    const deleted = Number(result.numAffectedRows ?? 0n)
    purged += deleted
    if (deleted < limit) break
  }
  return purged
}
