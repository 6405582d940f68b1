import { CompiledQuery, type QueryResult, type RawBuilder } from 'kysely'
import type pg from 'pg'
import { type Db, poolOf } from './database.js'
import { preparedName } from './prepared.js'

/** A stand-in for an argument while the statement is compiled, found again by identity. */
class Slot {
  constructor(readonly name: string) {}
}

/**
 * A statement whose text never changes, compiled once: `build` is called a
 * single time with stand-ins for its arguments, and each run only puts the
 * arguments where their stand-ins went. Kysely walks a template's nodes and
 * builds its text on every run otherwise, which for a statement of many
 * CTEs costs more of the caller's CPU than the driver does. An argument may
 * appear in the template any number of times; every other value of the
 * template (constants interpolated as parameters) is kept as compiled.
 * `build` must not branch on its arguments: they are stand-ins when it runs.
 */
export function precompiled<A extends Record<string, unknown>, R>(
  names: readonly (keyof A & string)[],
  build: (args: A) => RawBuilder<R>,
): (db: Db, args: A) => Promise<QueryResult<R>> {
  let compiled:
    | { sql: string; name: string | undefined; take: ((args: A) => unknown)[] }
    | undefined
  const compile = (db: Db) => {
    const slots = Object.fromEntries(names.map((name) => [name, new Slot(name)]))
    const { sql, parameters } = build(slots as unknown as A).compile(db)
    const take = parameters.map((value) => {
      if (value instanceof Slot) {
        const name = value.name as keyof A
        return (args: A) => args[name]
      }
      return () => value
    })
    return { sql, name: preparedName(sql), take }
  }
  return (db, args) => {
    compiled ??= compile(db)
    const { sql, name, take } = compiled
    const values = take.map((get) => get(args))
    // Straight to the pool when outside a transaction: Kysely's connection
    // provider, executor and driver add a dozen promise hops before the
    // statement is sent, which a lone call, running cold code, pays in full
    // before its write.
    const pool = poolOf(db)
    // Named as `prepared` marks it; the pool's clients take the name off
    // behind a transaction pooler (runUnnamed), as for Kysely's statements.
    if (pool) return pool.query<R & pg.QueryResultRow>({ name, text: sql, values })
    return db.executeQuery<R>(CompiledQuery.raw(sql, values) as CompiledQuery<R>)
  }
}
