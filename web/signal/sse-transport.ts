// Receiving over Server-Sent Events: one EventSource at a time, opened from the cursor with a fresh ticket, watched for life.
import type { SignalEvent } from '../../protocol/index.js'
import { SESSION_EVENT_TYPES } from '../../protocol/names.js'
import type { Cursor } from './cursor.js'
import { SignalError, type Http } from './http.js'
import { Emitter, Timers, type Transport, type TransportEvents } from './transport.js'

/** The session's event types (protocol/); `EventSource` only dispatches named events to listeners registered by name. */
export const EVENT_TYPES = SESSION_EVENT_TYPES

export type EventSourceCtor = new (url: string) => EventSource

/** A resumed (or upgraded) stream whose `ready` takes longer than this is abandoned. */
export const RESUME_READY_MS = 2000
/** A stream with no event for this many heartbeat intervals is dead. */
export const SILENCE_HEARTBEATS = 2.5
/** A stream that falls silent again this soon after its `ready` counts as a failed resume too. */
const SHORT_LIVED_MS = 60_000

/**
 * `first`: the first stream of `transport="sse"`; `upgrade`: `auto` moving from long-poll to SSE;
 * `resume`: after a drop, an error or a silence.
 */
export type SseMode = 'first' | 'upgrade' | 'resume'

export interface SseEvents extends TransportEvents {
  /** The stream said `ready`: it carries the session from here on. */
  ready: SseMode
  /**
   * The open failed or the stream died; it is abandoned already. `timeout`: no `ready` in time; `error`:
   * the ticket request or the EventSource failed; `silence`: no event for SILENCE_HEARTBEATS heartbeats
   * (`shortLived`: soon after a resume's `ready`, so that resume did not really work).
   */
  trouble: { mode: SseMode; why: 'timeout' | 'error' | 'silence'; shortLived: boolean }
  /** The server said `replaced`: another stream of the session took over (`openedAt`: when this one opened). */
  replaced: { mode: SseMode; openedAt: number }
  /** The ticket request was refused with 401: the session is gone. */
  unauthorized: SignalError
}

export interface SseSettings {
  /** How long the `first` stream may take to say `ready`. */
  firstReadyMs: () => number
  heartbeatMs: () => number
}

/**
 * Watchdogs, because a black-holed connection never errors: any SSE event (heartbeats included) counts as
 * life; a stream silent for SILENCE_HEARTBEATS × heartbeatMs is reported as `trouble`. The time an open may
 * take to say `ready` covers the ticket request too, which is aborted with it: a ticket request that hangs
 * (a dead keep-alive connection, no free connection) is a failed open like any other. What to do about
 * trouble (resume, back off, fall back to long-poll) is SignalClient's decision.
 */
export class SseTransport extends Emitter<SseEvents> implements Transport {
  readonly kind = 'sse'
  private source: EventSource | undefined
  /** Bumped by every open, abandon and close: callbacks of an abandoned open do nothing. */
  private attempt = 0
  /** The ticket request of the stream being opened, aborted when that open is abandoned. */
  private ticketAbort: AbortController | undefined
  private watchdog: ReturnType<typeof setTimeout> | undefined
  private readonly timers = new Timers()

  constructor(
    private readonly http: Http,
    private readonly EventSourceImpl: EventSourceCtor,
    private readonly settings: SseSettings,
  ) {
    super()
  }

  /** An EventSource is open (or the current open has its stream already). */
  get streaming(): boolean {
    return this.source !== undefined
  }

  /** Opens the session's stream from the cursor, with a fresh ticket (EventSource cannot set headers). */
  open(cursor: Cursor, mode: SseMode = 'resume'): void {
    this.source?.close()
    this.source = undefined
    this.ticketAbort?.abort()
    const attempt = ++this.attempt
    const abort = new AbortController()
    this.ticketAbort = abort
    const current = () => attempt === this.attempt
    const readyTimeoutMs = mode === 'first' ? this.settings.firstReadyMs() : RESUME_READY_MS
    const readyTimer = this.timers.later(readyTimeoutMs, () => {
      if (current()) this.trouble(mode, 'timeout')
    })
    void this.http.streamTicket(abort.signal).then((ticket) => {
      // Timed out, stopped or restarted while the ticket was on its way.
      if (!current()) return
      this.ticketAbort = undefined
      if (typeof ticket !== 'string') {
        if (ticket.status === 401) this.emit('unauthorized', new SignalError('unauthorized', 'The session has ended on the server', 401))
        else this.trouble(mode, 'error')
        return
      }
      // We reconnect ourselves (closing on every error) so that the cursor is always ours, in the URL.
      const source = new this.EventSourceImpl(this.http.url('/v1/events', { ticket, lastEventId: cursor.lastEventId }))
      this.source = source
      this.watch(source, mode, readyTimer)
    })
  }

  /** Ends the open under way: its ticket request, or its stream. */
  abandon(): void {
    this.attempt++
    this.ticketAbort?.abort()
    this.ticketAbort = undefined
    this.source?.close()
    this.source = undefined
    clearTimeout(this.watchdog)
  }

  close(): void {
    this.abandon()
    this.watchdog = undefined
    this.timers.clear()
  }

  private trouble(mode: SseMode, why: 'timeout' | 'error' | 'silence', shortLived = false): void {
    this.abandon()
    this.emit('trouble', { mode, why, shortLived })
  }

  /** The listeners of one opened stream: ready, heartbeats and events as life, replaced, errors. */
  private watch(source: EventSource, mode: SseMode, readyTimer: ReturnType<typeof setTimeout>): void {
    const openedAt = Date.now()
    let readyAt = 0
    const alive = () => {
      if (this.source !== source) return
      clearTimeout(this.watchdog)
      this.watchdog = setTimeout(() => {
        if (this.source !== source) return
        // Silent again soon after a resume: that resume did not really work (a proxy that buffers after
        // its first bytes, a path that drops streams at once).
        this.trouble('resume', 'silence', Date.now() - readyAt < SHORT_LIVED_MS && mode !== 'first')
      }, SILENCE_HEARTBEATS * this.settings.heartbeatMs())
    }
    source.addEventListener('ready', () => {
      if (this.source !== source) return
      readyAt = Date.now()
      this.timers.cancel(readyTimer)
      alive()
      this.emit('ready', mode)
    })
    source.addEventListener('heartbeat', alive)
    const onMessage = (type: string) => (message: Event) => {
      if (this.source !== source) return
      alive()
      const { data, lastEventId } = message as MessageEvent<string>
      let parsed: unknown
      try {
        parsed = JSON.parse(data)
      } catch {
        return
      }
      // Typed as the contract says; not validated here (that would bundle the schemas' validator).
      this.emit('event', { id: lastEventId, event: type, data: parsed } as SignalEvent)
    }
    for (const type of EVENT_TYPES) source.addEventListener(type, onMessage(type))
    source.addEventListener('message', onMessage('message'))
    source.addEventListener('replaced', () => {
      if (this.source !== source) return
      this.emit('replaced', { mode, openedAt })
    })
    source.onerror = () => {
      if (this.source !== source) return
      this.trouble(mode, 'error')
    }
  }
}
