/** The call's duration: counts from the connection's first `connected`, re-rendering the host every second. */
import type { ReactiveController, ReactiveControllerHost } from 'lit'

export class CallClockController implements ReactiveController {
  /** `performance.now()` when the call connected, null when not in a connected call. */
  startedAt: number | null = null
  private timer: ReturnType<typeof setInterval> | undefined

  constructor(private readonly host: ReactiveControllerHost) {
    host.addController(this)
  }

  hostDisconnected(): void {
    this.stop()
  }

  get elapsedMs(): number {
    return this.startedAt === null ? 0 : performance.now() - this.startedAt
  }

  start(): void {
    if (this.startedAt !== null) return
    this.startedAt = performance.now()
    this.timer = setInterval(() => this.host.requestUpdate(), 1000)
    this.host.requestUpdate()
  }

  /** Stops counting; returns how long the call lasted (0 when it never connected). */
  stop(): number {
    const elapsed = this.elapsedMs
    clearInterval(this.timer)
    this.timer = undefined
    this.startedAt = null
    return elapsed
  }
}
