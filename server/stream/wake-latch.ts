/** A receiver's one waiting point: the store, the socket's drain and the heartbeat all wake it here. */

/** Wakes one waiting reader; a wake that comes while it is busy is remembered, never lost. */
export class WakeLatch {
  private pending = false
  private resolve?: () => void
  fire(): void {
    this.pending = true
    this.resolve?.()
  }
  /** Resolves at once if fired since the last wait. */
  wait(): Promise<void> {
    if (this.pending) {
      this.pending = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      this.resolve = () => {
        this.pending = false
        this.resolve = undefined
        resolve()
      }
    })
  }
}
