// The position in the session's event sequence that every transport opens from, and the de-duplication that makes switching transports lossless.
import type { SignalEvent } from '../../protocol/index.js'

/** How many ids to remember for de-duplication; far more than a replay can overlap. */
const SEEN_LIMIT = 1024

/**
 * SSE (`?lastEventId=`) and long-poll (`?after=`) resume from the same cursor, the last id delivered, so
 * the client can resume after any drop and switch transports without losing or repeating an event
 * (docs/http-api.md "Receiving"): an overlap between two transports is absorbed here, by id.
 */
export class Cursor {
  /** The id of the last event delivered. */
  lastEventId: string | undefined
  private readonly seen = new Set<string>()
  private readonly seenOrder: string[] = []

  /** A new registration: a new sequence. */
  reset(): void {
    this.lastEventId = undefined
    this.seen.clear()
    this.seenOrder.length = 0
  }

  /** Moves the cursor past `event`; false (and nothing changes) when it was delivered already. */
  advance(event: SignalEvent): boolean {
    if (this.seen.has(event.id)) return false
    this.seen.add(event.id)
    this.seenOrder.push(event.id)
    if (this.seenOrder.length > SEEN_LIMIT) this.seen.delete(this.seenOrder.shift()!)
    this.lastEventId = event.id
    return true
  }
}
