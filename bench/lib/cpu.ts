import { readdirSync, readFileSync } from 'node:fs'

// USER_HZ: 100 on every Linux this runs on.
const CLOCK_TICKS = 100

interface Stat {
  parent: number
  /** utime + stime of the process itself. */
  self: number
  /** cutime + cstime: its children that exited and were waited for. */
  reaped: number
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which may itself contain spaces and parentheses.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return {
      parent: Number(f[1]),
      self: Number(f[11]) + Number(f[12]),
      reaped: Number(f[13]) + Number(f[14]),
    }
  } catch {
    return undefined
  }
}

/**
 * CPU seconds used so far by the process trees under `roots`: each live
 * process's own time plus the time of its children that already exited (a
 * PostgreSQL backend that disconnected is in the postmaster's). Unlike the
 * machine's /proc/stat, neighbours on a shared host and steal time are not in
 * it, so the same code measures the same on a busy and on a quiet machine
 * (up to cache effects).
 */
export function treeCpuSeconds(roots: readonly number[]): number {
  const stats = new Map<number, Stat>()
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    const stat = readStat(pid)
    if (!stat) continue
    stats.set(pid, stat)
    const siblings = children.get(stat.parent)
    if (siblings) siblings.push(pid)
    else children.set(stat.parent, [pid])
  }
  let ticks = 0
  const seen = new Set<number>()
  const pending = [...roots]
  while (pending.length > 0) {
    const pid = pending.pop() as number
    if (seen.has(pid)) continue
    seen.add(pid)
    const stat = stats.get(pid)
    if (!stat) continue
    ticks += stat.self + stat.reaped
    pending.push(...(children.get(pid) ?? []))
  }
  return ticks / CLOCK_TICKS
}

/** A meter over named process trees: `read()` answers each tree's CPU seconds since `start`. */
export function cpuMeter<K extends string>(trees: Record<K, () => readonly number[]>) {
  const names = Object.keys(trees) as K[]
  const at = () =>
    Object.fromEntries(names.map((n) => [n, treeCpuSeconds(trees[n]())])) as Record<K, number>
  const start = at()
  return {
    read(): Record<K, number> {
      const now = at()
      return Object.fromEntries(names.map((n) => [n, now[n] - start[n]])) as Record<K, number>
    },
  }
}
