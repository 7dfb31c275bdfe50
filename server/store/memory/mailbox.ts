/**
 * One session's ordered mailbox: the delivery rules of docs/http-api.md ("Delivery promise") in one place.
 *
 * - Every event gets the next integer id (ids only increase; a collapsed missed call leaves a gap).
 * - An event is *undelivered* until it is written to a live stream; undelivered events are never dropped,
 *   and they count against the limits (count and bytes): a sender over the limit gets 429 mailbox_full.
 *   One sender may fill at most half of each limit, so a stranger cannot make the mailbox refuse everyone.
 * - A written event stays held for replay until a later resume or poll shows it received (its cursor is
 *   at or past it), or until it falls out of the replay window (count, bytes and age), so a long healthy
 *   stream never piles up.
 * - A call that ends before any of its events was written (the callee's stream was down) is collapsed into
 *   one `missedCall` event.
 */
import { ApiError } from '../../errors.js'
import { MAILBOX_FULL, SHARE_FULL } from '../refusals.js'
import type { SessionEventType } from '../../../protocol/index.js'
import type { NewEvent } from '../events.js'
import type { StoredEvent } from '../types.js'

export type { NewEvent }

export interface MailboxLimits {
  maxEvents: number
  maxBytes: number
  replayMaxEvents: number
  replayMaxBytes: number
  replayMaxAgeMs: number
}

interface Held {
  id: number
  event: SessionEventType
  json: string
  bytes: number
  /** The session whose action caused it (its share of the limits). */
  from: string
  /** The call it belongs to, for the missed-call collapse. */
  callId?: string
  /** When it was first written to a stream (0: not yet). */
  sentAt: number
}

interface Share {
  count: number
  bytes: number
}

export class Mailbox {
  private held: Held[] = []
  private lastId = 0
  /** Highest id ever written to a stream: everything above it is undelivered. */
  private sentUpTo = 0
  private undelivered = 0
  private undeliveredBytes = 0
  private replayBytes = 0
  /** Undelivered events per sender. */
  private readonly shares = new Map<string, Share>()

  constructor(private readonly limits: MailboxLimits) {}

  /**
   * Stores events in order, all or none. `force` is for the few events that end or start a call (at most
   * one per call and party): refusing them would leave a peer in a call that no longer exists.
   */
  append(events: NewEvent[], force = false): void {
    // On the path of every relayed message: each event is serialised once, with no intermediate objects.
    const jsons = new Array<string>(events.length)
    const sizes = new Array<number>(events.length)
    let bytes = 0
    for (let i = 0; i < events.length; i++) {
      const json = JSON.stringify(events[i].data)
      jsons[i] = json
      bytes += sizes[i] = Buffer.byteLength(json)
    }
    if (!force) {
      if (this.undelivered + events.length > this.limits.maxEvents || this.undeliveredBytes + bytes > this.limits.maxBytes) {
        throw new ApiError('mailbox_full', MAILBOX_FULL, { 'Retry-After': '1' })
      }
      // Every event of one append has the same sender.
      const share = this.shares.get(events[0]?.from ?? '')
      if ((share?.count ?? 0) + events.length > this.limits.maxEvents / 2 || (share?.bytes ?? 0) + bytes > this.limits.maxBytes / 2) {
        throw new ApiError('mailbox_full', SHARE_FULL, { 'Retry-After': '1' })
      }
    }
    for (let i = 0; i < events.length; i++) {
      const e = events[i]
      this.held.push({ id: ++this.lastId, event: e.event, json: jsons[i], bytes: sizes[i], from: e.from, callId: e.callId, sentAt: 0 })
      this.count(e.from, 1, sizes[i])
    }
  }

  get undeliveredCount(): number {
    return this.undelivered
  }

  /**
   * Where a resuming stream starts: everything up to `after` counts as received and is let go. A cursor
   * past what was ever written is clamped (a client cannot have seen what was never sent), so a wrong
   * `Last-Event-ID` never drops an undelivered event.
   */
  resume(after: number | undefined): number {
    const cursor = Math.min(after ?? 0, this.sentUpTo)
    const drop = this.firstAfter(cursor)
    for (let i = 0; i < drop; i++) this.replayBytes -= this.held[i].bytes
    if (drop > 0) this.held.splice(0, drop)
    return cursor
  }

  /** Held events after `cursor`, oldest first, at most about `maxBytes` of data (always at least one). */
  after(cursor: number, maxBytes = Infinity): StoredEvent[] {
    const out: StoredEvent[] = []
    let bytes = 0
    for (let i = this.firstAfter(cursor); i < this.held.length && (out.length === 0 || bytes < maxBytes); i++) {
      const e = this.held[i]
      out.push({ id: String(e.id), event: e.event, json: e.json })
      bytes += e.bytes
    }
    return out
  }

  /** Records that events up to `id` were written to a live stream, then trims the replay window. */
  markSent(id: number, now = Date.now()): void {
    if (id > this.sentUpTo) {
      for (let i = this.firstAfter(this.sentUpTo); i < this.held.length && this.held[i].id <= id; i++) {
        const e = this.held[i]
        e.sentAt = now
        this.count(e.from, -1, -e.bytes)
        this.replayBytes += e.bytes
      }
      this.sentUpTo = Math.min(id, this.lastId)
    }
    this.trim(now)
  }

  /**
   * Lets go of written events beyond the replay window's count, bytes or age. Undelivered ones always
   * stay. Also run on a timer by the store, so the age holds while nothing new arrives.
   */
  trim(now = Date.now()): void {
    const sentHeld = this.firstAfter(this.sentUpTo)
    let drop = Math.max(0, sentHeld - this.limits.replayMaxEvents)
    let bytes = this.replayBytes
    for (let i = 0; i < drop; i++) bytes -= this.held[i].bytes
    while (drop < sentHeld && (bytes > this.limits.replayMaxBytes || now - this.held[drop].sentAt > this.limits.replayMaxAgeMs)) {
      bytes -= this.held[drop].bytes
      drop++
    }
    if (drop > 0) {
      this.held.splice(0, drop)
      this.replayBytes = bytes
    }
  }

  /**
   * A call ended before any of its events reached this mailbox's stream: its held events are replaced by
   * one `missedCall` (forced). False, and nothing changed, when one of them was written already or none
   * is held (then the caller delivers the ordinary notice).
   */
  collapseCall(callId: string, missed: NewEvent): boolean {
    const start = this.firstAfter(this.sentUpTo)
    // The incomingCall itself must be undelivered; then so is everything that came after it for the call.
    let offer = start
    while (offer < this.held.length && !(this.held[offer].callId === callId && this.held[offer].event === 'incomingCall')) offer++
    if (offer === this.held.length) return false
    const kept = this.held.slice(0, offer)
    for (let i = offer; i < this.held.length; i++) {
      const e = this.held[i]
      if (e.callId === callId) this.count(e.from, -1, -e.bytes)
      else kept.push(e)
    }
    this.held = kept
    this.append([missed], true)
    return true
  }

  private count(from: string, events: number, bytes: number): void {
    this.undelivered += events
    this.undeliveredBytes += bytes
    const share = this.shares.get(from)
    if (!share) {
      this.shares.set(from, { count: events, bytes })
    } else if (share.count + events <= 0) {
      this.shares.delete(from)
    } else {
      share.count += events
      share.bytes += bytes
    }
  }

  /** Index of the first held event with an id above `cursor` (ids increase: a binary search). */
  private firstAfter(cursor: number): number {
    let low = 0
    let high = this.held.length
    while (low < high) {
      const mid = (low + high) >> 1
      if (this.held[mid].id <= cursor) low = mid + 1
      else high = mid
    }
    return low
  }
}
