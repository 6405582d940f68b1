import type { KindCounters } from './types.js'

/** A worker's started/succeeded/failed counts, in total and per kind. */
export function createCounters() {
  const totals: KindCounters = { started: 0, succeeded: 0, failed: 0 }
  const byKind: Record<string, KindCounters> = {}
  return {
    count(kind: string, what: keyof KindCounters) {
      totals[what]++
      const counters = byKind[kind] ?? { started: 0, succeeded: 0, failed: 0 }
      byKind[kind] = counters
      counters[what]++
    },
    /** A copy, safe to hand out. */
    snapshot(): KindCounters & { byKind: Record<string, KindCounters> } {
      const kinds: Record<string, KindCounters> = {}
      for (const [kind, counters] of Object.entries(byKind)) kinds[kind] = { ...counters }
      return { ...totals, byKind: kinds }
    },
  }
}
