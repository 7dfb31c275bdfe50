// What every transport of SignalClient shares: typed events, timers that die with the transport, the cursor it opens from.
import type { SignalEvent } from '../../protocol/index.js'
import type { Cursor } from './cursor.js'

export type TransportKind = 'sse' | 'poll'

/** A minimal typed event emitter that runs in browsers and in Node alike (no EventTarget subclassing). */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly listeners: { [K in keyof Events]?: Array<(data: Events[K]) => void> } = {}

  on<K extends keyof Events>(type: K, listener: (data: Events[K]) => void): this {
    ;(this.listeners[type] ??= []).push(listener)
    return this
  }

  protected emit<K extends keyof Events>(type: K, data: Events[K]): void {
    for (const listener of this.listeners[type] ?? []) listener(data)
  }
}

/**
 * Timers that run only while their owner is open: `clear()` (on close) cancels every one, so a callback
 * of a closed transport never runs (SignalClient's "generation" in one place).
 */
export class Timers {
  private readonly pending = new Set<ReturnType<typeof setTimeout>>()

  later(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.pending.delete(timer)
      fn()
    }, ms)
    this.pending.add(timer)
    return timer
  }

  cancel(timer: ReturnType<typeof setTimeout> | undefined): void {
    if (timer === undefined) return
    clearTimeout(timer)
    this.pending.delete(timer)
  }

  clear(): void {
    for (const timer of this.pending) clearTimeout(timer)
    this.pending.clear()
  }
}

/** The shape every transport has (engine.io-client's Transport): open from a cursor, close, say what happened. */
export interface Transport {
  readonly kind: TransportKind
  open(cursor: Cursor): void
  close(): void
}

/** Events every transport emits: an event of the session (de-duplication is the cursor's, in SignalClient). */
export interface TransportEvents extends Record<string, unknown> {
  event: SignalEvent
}

/** The pause before the next attempt after `failures` failures in a row: doubling from 250 ms, capped. */
export function backoff(failures: number, maxBackoffMs = 5000): number {
  return Math.min(250 * 2 ** Math.max(0, failures - 1), maxBackoffMs)
}
