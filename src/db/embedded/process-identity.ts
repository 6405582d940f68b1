import { readFileSync } from 'node:fs'

/**
 * A process told apart from a later one that reused its pid: its pid and
 * its start time since boot (from /proc; where there is no /proc, the pid
 * alone, checked with signal 0).
 */
export interface ProcessIdentity {
  pid: number
  startedAt: string
}

export function identify(pid: number): ProcessIdentity | undefined {
  if (!isAlive(pid)) return undefined
  return { pid, startedAt: startTime(pid) }
}

export function isSame(identity: ProcessIdentity): boolean {
  const now = identify(identity.pid)
  return now !== undefined && now.startedAt === identity.startedAt
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    // EPERM: alive, but someone else's.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  // A zombie answers signal 0 until its parent reaps it, but is gone.
  return state(pid) !== 'Z'
}

function state(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
  } catch {
    return undefined
  }
}

/** A process's arguments, or undefined where /proc cannot tell. */
export function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return undefined
  }
}

function startTime(pid: number): string {
  try {
    // Field 22 of /proc/PID/stat; the command name (field 2) may hold spaces,
    // so count from the closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? ''
  } catch {
    return ''
  }
}
