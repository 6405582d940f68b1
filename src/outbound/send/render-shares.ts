/**
 * How many of a workspace's deliveries may be rendering a costly template
 * (render-pool.ts) in this process at once, queued or running. A delivery
 * waiting for a render thread holds a worker slot: without a bound, one
 * workspace posting events for a runaway template filled every slot with
 * waits, and other workspaces' jobs were started only as those renders ended
 * (2.3 s at p99 in bench:isolation). At the bound, a delivery is put off
 * instead (put-off.ts), and its slot goes to the next job.
 *
 * The bound is the render threads plus one: enough to keep every thread busy
 * with one workspace's renders and one more ready, no more.
 */
export class RenderShares {
  readonly perWorkspace: number
  readonly #held = new Map<string, { count: number; holdMs: number | undefined }>()
  readonly #defaultHoldMs: () => number

  /** `defaultHoldMs`: how long a render is taken to last before one has been seen. */
  constructor(perWorkspace: number, defaultHoldMs: () => number) {
    this.perWorkspace = perWorkspace
    this.#defaultHoldMs = defaultHoldMs
  }

  /** A share of the render threads for one delivery, or null when its workspace holds all of its own. */
  take(workspace: string): RenderShare | null {
    const held = this.#held.get(workspace) ?? { count: 0, holdMs: undefined }
    if (held.count >= this.perWorkspace) return null
    held.count++
    this.#held.set(workspace, held)
    const start = performance.now()
    let given = false
    return {
      give: () => {
        if (given) return
        given = true
        const ms = performance.now() - start
        held.holdMs = held.holdMs === undefined ? ms : held.holdMs * 0.8 + ms * 0.2
        // Idle: forgotten, so the map holds busy workspaces only.
        if (--held.count === 0) this.#held.delete(workspace)
      },
    }
  }

  /** About how many renders a second a workspace at its bound gets through. */
  perSecond(workspace: string): number {
    const holdMs = this.#held.get(workspace)?.holdMs ?? this.#defaultHoldMs()
    return Math.max(1, (this.perWorkspace * 1000) / Math.max(1, holdMs))
  }
}

export interface RenderShare {
  /** Gives the share back; once is enough, more are ignored. */
  give(): void
}
