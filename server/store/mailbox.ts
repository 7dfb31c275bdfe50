/**
 * One session's ordered mailbox: the delivery rules of API.md in one place.
 *
 * - Every event gets the next integer id.
 * - An event is *undelivered* until it is written to a live stream; undelivered events are never dropped,
 *   and they count against the limits (count and bytes): a sender over the limit gets 429 mailbox_full.
 * - A written event stays held for replay until a later resume or poll shows it received (its cursor is
 *   at or past it), or until it falls out of the replay window (count and age), so a long healthy stream
 *   never piles up.
 */
import { ApiError } from '../errors.js'
import type { EventType } from '../schemas/events.js'
import type { StoredEvent } from './types.js'

export interface MailboxLimits {
  maxEvents: number
  maxBytes: number
  replayMaxEvents: number
  replayMaxAgeMs: number
}

interface Held {
  id: number
  event: EventType
  json: string
  bytes: number
  /** When it was first written to a stream (0: not yet). */
  sentAt: number
}

export interface NewEvent {
  event: EventType
  data: Record<string, unknown>
}

export class Mailbox {
  private held: Held[] = []
  private lastId = 0
  /** Highest id ever written to a stream: everything above it is undelivered. */
  private sentUpTo = 0
  private undeliveredBytes = 0

  constructor(private readonly limits: MailboxLimits) {}

  /**
   * Stores events in order, all or none. `force` is for the few events that end a call (at most one per
   * call): refusing them would leave a peer in a call that no longer exists.
   */
  append(events: NewEvent[], force = false): void {
    const serialised = events.map((e) => {
      const json = JSON.stringify(e.data)
      return { event: e.event, json, bytes: Buffer.byteLength(json) }
    })
    if (!force) {
      const bytes = serialised.reduce((sum, e) => sum + e.bytes, 0)
      if (this.undeliveredCount + events.length > this.limits.maxEvents || this.undeliveredBytes + bytes > this.limits.maxBytes) {
        throw new ApiError(
          'mailbox_full',
          'The recipient has too many undelivered events; retry once it has caught up (its stream is down or slow).',
          { 'Retry-After': '1' },
        )
      }
    }
    for (const e of serialised) {
      this.held.push({ id: ++this.lastId, event: e.event, json: e.json, bytes: e.bytes, sentAt: 0 })
      this.undeliveredBytes += e.bytes
    }
  }

  get undeliveredCount(): number {
    return this.lastId - this.sentUpTo
  }

  /**
   * Where a resuming stream starts: everything up to `after` counts as received and is let go. A cursor
   * past what was ever written is clamped (a client cannot have seen what was never sent), so a wrong
   * `Last-Event-ID` never drops an undelivered event.
   */
  resume(after: number | undefined): number {
    const cursor = Math.min(after ?? 0, this.sentUpTo)
    let drop = 0
    while (drop < this.held.length && this.held[drop].id <= cursor) drop++
    if (drop > 0) this.held.splice(0, drop)
    return cursor
  }

  /** Held events after `cursor`, oldest first. */
  after(cursor: number): StoredEvent[] {
    const out: StoredEvent[] = []
    for (let i = this.firstAfter(cursor); i < this.held.length; i++) {
      const e = this.held[i]
      out.push({ id: String(e.id), event: e.event, json: e.json })
    }
    return out
  }

  /** Records that events up to `id` were written to a live stream, then trims the replay window. */
  markSent(id: number, now = Date.now()): void {
    if (id > this.sentUpTo) {
      for (let i = this.firstAfter(this.sentUpTo); i < this.held.length && this.held[i].id <= id; i++) {
        this.held[i].sentAt = now
        this.undeliveredBytes -= this.held[i].bytes
      }
      this.sentUpTo = Math.min(id, this.lastId)
    }
    this.trim(now)
  }

  /** Lets go of written events beyond the replay window's count or age. Undelivered ones always stay. */
  trim(now = Date.now()): void {
    const sentHeld = this.held.length - this.undeliveredCount
    let drop = Math.max(0, sentHeld - this.limits.replayMaxEvents)
    while (drop < sentHeld && now - this.held[drop].sentAt > this.limits.replayMaxAgeMs) drop++
    if (drop > 0) this.held.splice(0, drop)
  }

  private firstAfter(cursor: number): number {
    // Ids are consecutive integers except where a prefix was let go, so this is one subtraction.
    if (this.held.length === 0) return 0
    return Math.max(0, Math.min(this.held.length, cursor - this.held[0].id + 1))
  }
}
