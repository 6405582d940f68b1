import type { ColumnType } from 'kysely'

/**
 * A jsonb column: read as T, written as JSON text. Repositories write
 * `JSON.stringify(value)` because pg would send a JS array as a Postgres array.
 */
export type Json<T> = ColumnType<T, string | Extract<T, null>, string | Extract<T, null>>
