// The missed-call list the element keeps (rtc-missed, `missedCalls`): a `missedCall` event or an unanswered ring, once per call.
import type { EventData } from '../../protocol/index.js'

/** Calls that rang while nobody answered, newest first, until the user clears the list. */

export interface MissedCall {
  callId: string
  from: string
  /** `cancelled` (the caller gave up) or `no_answer` (the ring time-out). */
  reason: string
  /** ISO time: the server's for `missedCall`, this browser's for a call that rang here. */
  at: string
}

/** How many entries are kept (the oldest go first). */
export const MISSED_LIMIT = 50

export class MissedCalls {
  private entries: MissedCall[] = []

  get list(): readonly MissedCall[] {
    return this.entries
  }

  /** Adds one; false when this call is listed already (a replay, or a call that both rang and was collapsed). */
  add(entry: MissedCall): boolean {
    if (this.entries.some((e) => e.callId === entry.callId)) return false
    this.entries = [entry, ...this.entries].slice(0, MISSED_LIMIT)
    return true
  }

  clear(): void {
    this.entries = []
  }
}

/** A `missedCall` event's data, checked (the element never trusts a payload's shape). */
export function missedFromEvent(data: EventData<'missedCall'>): MissedCall | undefined {
  if (typeof data?.callId !== 'string' || typeof data?.from !== 'string') return undefined
  return {
    callId: data.callId,
    from: data.from,
    reason: typeof data.reason === 'string' ? data.reason : 'no_answer',
    at: typeof data.at === 'string' ? data.at : new Date().toISOString(),
  }
}
