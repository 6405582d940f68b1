import { sql } from 'kysely'
import t from 'tap'
import { purgeExpiredClaims } from '../../src/inbound/sql/purge-claims.js'
import { build, createWorkspace } from '../helpers/app.js'
import { createHandler } from '../helpers/inbound.js'

// A handler taking 300 calls/s with a protection period writes 18,000 claims
// a minute, past one purge statement's bound: each minutely run has to keep
// going until the expired claims are gone, or the table grows for ever.
t.test('one purge run removes every long-expired claim, and no live one', async (t) => {
  const { app, database } = await build(t)
  const ws = await createWorkspace(app)
  const handler = await createHandler(app, ws.auth, {
    title: 'Busy',
    mapping: [{ source: 'email', target: 'lead.email' }],
  })
  await sql`
    insert into inbound_claims (handler_id, key, call_id, expires_at)
    select ${handler.id}, 'd:' || i, 'call_' || i,
      case when i % 10 = 0 then now() + interval '1 hour' else now() - interval '2 minutes' end
    from generate_series(1, 25000) as i`.execute(database.db)

  const purged = await purgeExpiredClaims(database.db)
  t.equal(purged, 22_500, 'every claim that expired over a minute ago')
  const { rows } = await sql<{ live: number; expired: number }>`
    select count(*) filter (where expires_at > now())::int as live,
      count(*) filter (where expires_at <= now())::int as expired
    from inbound_claims`.execute(database.db)
  t.same(rows[0], { live: 2_500, expired: 0 }, 'the live claims stay')
})
