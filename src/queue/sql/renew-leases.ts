import type pg from 'pg'

/**
 * Extends the lease of every job this worker holds, in one statement (the
 * heartbeat). Returns the ids still held: a missing one was lost (the lease
 * lapsed and another worker claimed it, or it was cancelled).
 */
export async function renewLeases(
  pool: pg.Pool,
  args: { workerId: string; leaseMs: number; ids: string[] },
): Promise<Set<string>> {
  const { rows } = await pool.query<{ id: string }>({
    name: 'hookline_renew_leases',
    text: `update jobs set locked_until = now() + $3 * interval '1 millisecond'
      where id = any($2::bigint[]) and locked_by = $1
      returning id::text as id`,
    values: [args.workerId, args.ids, args.leaseMs],
  })
  return new Set(rows.map((r) => r.id))
}
