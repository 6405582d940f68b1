import { sql } from 'kysely'

/**
 * The conflict clause of every claim insert: a key held and not expired
 * stays with its holder (the row is not returned); an expired one is taken
 * over. DO UPDATE may not touch a row twice in one statement, so an insert
 * passes each (handler, key) once.
 */
export const takeUnlessHeld = sql`on conflict (handler_id, key) do update
  set call_id = excluded.call_id, expires_at = excluded.expires_at
  where inbound_claims.expires_at <= now()`
