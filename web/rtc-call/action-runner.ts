// Every public method of the element runs through here: the pending flag, the last error cleared, a failure as a coded rejection plus `rtc-error`.
import type { CallStatus, ErrorContext } from './call-status.js'

export class ActionRunner {
  /** Actions (not reads) under way: the buttons are disabled while there is one. */
  private actions = 0

  constructor(private readonly status: CallStatus) {}

  /**
   * Runs a public method: clears the last error unless it only reads (and with `next`, the last "why it ended": the user's next
   * action — register, call, unregister; an incoming call does too), and turns every failure into a coded
   * rejection + rtc-error.
   */
  async run<T>(fn: () => Promise<T>, options: { next?: boolean; read?: boolean; context?: ErrorContext } = {}): Promise<T> {
    const status = this.status
    // A read (the names online, the devices) leaves the last error shown, and the buttons enabled: a page may
    // refresh it any time (the demo page does every 5 s), and a click on Reject then must not be lost.
    if (!options.read) status.error = ''
    if (options.next) status.ended = null
    if (!options.read) status.pending = ++this.actions > 0
    try {
      return await fn()
    } catch (error) {
      throw status.fail(error, options.context)
    } finally {
      if (!options.read) status.pending = --this.actions > 0
    }
  }
}
