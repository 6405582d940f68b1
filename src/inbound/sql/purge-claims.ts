import { sql } from 'kysely'
import type { Db } from '../../db/database.js'

/**
 * Deletes claims that expired a while ago, a bounded number per run so the
 * statement stays short; expired claims are harmless meanwhile (a new claim
 * takes them over), this only keeps the table small.
 */
export async function purgeExpiredClaims(db: Db, limit = 10_000): Promise<number> {
  const result = await sql`
    delete from inbound_claims
    where ctid = any(array(
      select ctid from inbound_claims
      where expires_at < now() - interval '1 minute'
      limit ${limit}
    ))`.execute(db)
  return Number(result.numAffectedRows ?? 0n)
}
