/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/** The middle sample, or the mean of the middle two when the count is even. */
export function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export const round = (value: number, digits = 0) => {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** Wall time and this process's CPU time from now until `stop()`. */
export function startTimer() {
  const wall = performance.now()
  const cpu = process.cpuUsage()
  return {
    stop() {
      const used = process.cpuUsage(cpu)
      return {
        seconds: (performance.now() - wall) / 1000,
        nodeCpuSeconds: (used.user + used.system) / 1e6,
      }
    },
  }
}
