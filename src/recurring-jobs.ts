import { sql } from 'kysely'
import type { Db } from './db/database.js'
import { enqueue } from './queue/index.js'

/**
 * Queues a run of a recurring job (the retention purge, the delivery
 * reconcile: each run queues the next) unless one is already pending. Several
 * workers start at once in a scale-out, so the check and the insert run under
 * one advisory lock per kind: exactly one of them queues it.
 */
export async function scheduleRecurring(
  db: Db,
  kind: string,
  options: { runAt?: Date; exceptJobId?: string; payload?: unknown } = {},
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${kind}))`.execute(trx)
    const pending = await trx
      .selectFrom('jobs')
      .select('id')
      .where('kind', '=', kind)
      .where('dead_at', 'is', null)
      .$if(options.exceptJobId !== undefined, (q) =>
        q.where('id', '<>', Number(options.exceptJobId)),
      )
      .limit(1)
      .executeTakeFirst()
    if (pending) return false
    await enqueue(trx, [
      {
        kind,
        payload: options.payload ?? {},
        ...(options.runAt ? { runAt: options.runAt } : {}),
      },
    ])
    return true
  })
}
