import { sql } from 'kysely'
import type { Db } from '../../db/database.js'

export interface Claim {
  handlerId: string
  key: string
  callId: string
  ttlSeconds: number
}

/**
 * Claims keys for calls in one statement; answers the claims won
 * as `handlerId key`. A key already held and not expired is not won, also
 * when the holder is a concurrent transaction: the insert waits for it, then
 * finds the conflict, so two identical calls can never both win. An expired
 * claim is taken over in the same statement. Expiry uses the database's
 * clock, which every process shares.
 *
 * The caller passes each (handler, key) once: DO UPDATE may not touch a row
 * twice in one statement. Claims are sorted so that concurrent batches lock
 * keys in one order and cannot deadlock.
 */
export async function claimKeys(db: Db, claims: Claim[]): Promise<Set<string>> {
  if (claims.length === 0) return new Set()
  const sorted = [...claims].sort((a, b) =>
    a.handlerId === b.handlerId ? (a.key < b.key ? -1 : 1) : a.handlerId < b.handlerId ? -1 : 1,
  )
  const { rows } = await sql<{ handler_id: string; key: string }>`
    insert into inbound_claims (handler_id, key, call_id, expires_at)
    select handler_id, key, call_id, now() + make_interval(secs => ttl)
    from unnest(
      ${sorted.map((c) => c.handlerId)}::text[], ${sorted.map((c) => c.key)}::text[],
      ${sorted.map((c) => c.callId)}::text[], ${sorted.map((c) => c.ttlSeconds)}::float8[]
    ) with ordinality as c(handler_id, key, call_id, ttl, n)
    order by n
    ${takeUnlessHeld}
    returning handler_id, key`.execute(db)
  return new Set(rows.map((row) => `${row.handler_id} ${row.key}`))
}

/**
 * The conflict clause of every claim insert: a key held and not expired
 * stays with its holder (the row is not returned); an expired one is taken
 * over. DO UPDATE may not touch a row twice in one statement, so an insert
 * passes each (handler, key) once.
 */
export const takeUnlessHeld = sql`on conflict (handler_id, key) do update
  set call_id = excluded.call_id, expires_at = excluded.expires_at
  where inbound_claims.expires_at <= now()`
