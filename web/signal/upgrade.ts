// `auto`'s move from long-poll to SSE: a probe stream proves streaming works on this path, then the real stream takes over.
import type { Cursor } from './cursor.js'
import type { Http } from './http.js'
import type { EventSourceCtor, SseTransport } from './sse-transport.js'
import { Emitter, Timers } from './transport.js'

/** `auto`: the probe stream must bring `ready` and its first heartbeat within this time of opening. */
export const PROBE_MS = 3000

export interface UpgradeEvents extends Record<string, unknown> {
  /** What the probe found (`true`: streaming works on this path; the upgrade's stream is opening). */
  probe: boolean
}

/**
 * engine.io's probe with SSE in place of WebSocket (docs/element.md "Transports"): `auto` receives over
 * long-poll from the first moment, so `register()` resolves after one round trip behind any proxy, and
 * meanwhile a probe stream (`?probe=1`, with its own ticket) opens. Only when the probe's `ready` and first
 * `heartbeat` both arrive within PROBE_MS (its ticket request included) does the real stream open with
 * the cursor; that stream replaces the long-poll on the server, the poll loop sends no new poll meanwhile
 * (`pending`), and the cursor's de-duplication absorbs any overlap, so the upgrade loses and repeats nothing.
 */
export class Upgrade extends Emitter<UpgradeEvents> {
  /** The probe under way (its ticket request, then its stream). */
  private probing: { abort: AbortController; source?: EventSource } | undefined
  /** The upgrade's stream is opening; the poll loop waits for its outcome. */
  private upgrading: { done: Promise<boolean>; settle: (ok: boolean) => void } | undefined
  private run = 0
  private readonly timers = new Timers()

  constructor(
    private readonly http: Http,
    private readonly EventSourceImpl: EventSourceCtor,
    private readonly sse: SseTransport,
  ) {
    super()
  }

  /** Resolves true when the upgrade's stream said `ready`, false when it failed or was stopped. */
  get pending(): Promise<boolean> | undefined {
    return this.upgrading?.done
  }

  /** Starts the probe (unless one is under way); proven, the upgrade's stream opens from `cursor`. */
  open(cursor: Cursor): void {
    if (this.probing) return
    const probe: { abort: AbortController; source?: EventSource } = { abort: new AbortController() }
    this.probing = probe
    const run = this.run
    let ready = false
    let beat = false
    const settle = (proven: boolean) => {
      if (this.probing !== probe) return
      probe.abort.abort()
      probe.source?.close()
      this.probing = undefined
      this.timers.cancel(timer)
      this.emit('probe', proven)
      // Closed by a listener of `probe`: nothing more to do.
      if (proven && run === this.run) this.begin(cursor)
    }
    const timer = this.timers.later(PROBE_MS, () => settle(false))
    void this.http.streamTicket(probe.abort.signal).then((ticket) => {
      if (this.probing !== probe) return
      // No ticket (a server without tickets, a path that holds the request back): no streaming.
      if (typeof ticket !== 'string') {
        settle(false)
        return
      }
      const source = new this.EventSourceImpl(this.http.url('/v1/events', { ticket, probe: '1' }))
      probe.source = source
      source.addEventListener('ready', () => {
        ready = true
        if (beat) settle(true)
      })
      source.addEventListener('heartbeat', () => {
        beat = true
        if (ready) settle(true)
      })
      source.onerror = () => settle(false)
    })
  }

  /**
   * The upgrade is over: `ok` settles whoever waits on `pending` (undefined: nobody is told). Returns
   * whether one was under way.
   */
  finish(ok?: boolean): boolean {
    const upgrading = this.upgrading
    this.upgrading = undefined
    if (ok !== undefined) upgrading?.settle(ok)
    return upgrading !== undefined
  }

  close(): void {
    this.run++
    this.probing?.abort.abort()
    this.probing?.source?.close()
    this.probing = undefined
    this.finish(false)
    this.timers.clear()
  }

  private begin(cursor: Cursor): void {
    let settle!: (ok: boolean) => void
    const done = new Promise<boolean>((resolve) => (settle = resolve))
    this.upgrading = { done, settle }
    this.sse.open(cursor, 'upgrade')
  }
}
