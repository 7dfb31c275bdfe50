// Receiving over long-poll: `GET /v1/poll?after=<cursor>&wait=<s>` in a loop, the token in a header, for any path that buffers streams.
import type { SignalEvent } from '../../protocol/index.js'
import type { Cursor } from './cursor.js'
import { notSigpost, SignalError, type Http } from './http.js'
import { backoff, Emitter, Timers, type Transport, type TransportEvents } from './transport.js'

/** A long-poll unanswered this many heartbeat intervals past its wait is abandoned. */
export const POLL_GRACE_HEARTBEATS = 2

export interface PollEvents extends TransportEvents {
  /** The first poll answered: the stream is attached. */
  ready: undefined
  /** The loop stopped for good: `unauthorized`, `replaced`, or (while a registration waits) `network_error`/`proxy_error`. */
  fail: SignalError
}

export interface PollSettings {
  token: () => string
  heartbeatMs: () => number
  /** Long-poll `wait`, in seconds. */
  pollWaitS?: number
  maxBackoffMs?: number
}

/** What the loop needs to know of the client around it (engine.io-client's socket pausing its polling). */
export interface PollHost {
  /** `auto`: an upgrade to SSE under way; resolves true when SSE took over. */
  upgrading(): Promise<boolean> | undefined
  /** SSE carries the session now: polling ends. */
  streaming(): boolean
  /** A registration waits for the first answer (then a path that cannot work fails it at once). */
  waiting(): boolean
}

/**
 * Polls until closed, or (auto) an upgrade to SSE succeeds. While an upgrade is under way no new poll is
 * sent: the SSE stream replaces the current one, and a new poll would take it back. A long-poll unanswered
 * POLL_GRACE_HEARTBEATS × heartbeatMs past its wait went into a black hole and is asked again.
 */
export class PollTransport extends Emitter<PollEvents> implements Transport {
  readonly kind = 'poll'
  /** Polls sent and not yet answered (only such a poll can take the stream back from our own upgrade). */
  pollsInFlight = 0
  /** When a poll of ours last answered without `replaced` (Date.now()). */
  plainPollAt = 0
  /** Bumped by close(): loops of an older run end. */
  private run = 0
  /** The run whose loop is going (-1: none). */
  private looping = -1
  private pollAbort: AbortController | undefined
  private readonly timers = new Timers()

  constructor(
    private readonly http: Http,
    private readonly settings: PollSettings,
    private readonly host: PollHost,
  ) {
    super()
  }

  /**
   * Starts the poll loop, unless this run's loop is still going: two loops of one session would take the
   * stream from each other, and the older one's poll, answered `replaced`, would end the registration (an
   * upgrade given up while a poll of ours was still in flight did just that).
   */
  open(cursor: Cursor): void {
    if (this.looping === this.run) return
    const run = this.run
    this.looping = run
    void this.loop(cursor, run).finally(() => {
      if (this.looping === run) this.looping = -1
    })
  }

  close(): void {
    this.run++
    this.pollAbort?.abort()
    this.pollAbort = undefined
    this.timers.clear()
  }

  private async loop(cursor: Cursor, run: number): Promise<void> {
    let first = true
    let failures = 0
    while (run === this.run) {
      const upgrading = this.host.upgrading()
      if (upgrading) {
        const upgraded = await upgrading
        if (upgraded || run !== this.run) return
      }
      if (this.host.streaming()) return
      const abort = new AbortController()
      this.pollAbort = abort
      this.pollsInFlight++
      // The first poll does not wait, so that `register()` resolves as soon as the stream is attached.
      const wait = first ? 0 : (this.settings.pollWaitS ?? 25)
      const url = this.http.url('/v1/poll', { after: cursor.lastEventId, wait: String(wait) })
      // A poll that outlives its wait by far went into a black hole (a half-open connection): ask again.
      const watchdog = setTimeout(() => abort.abort(), wait * 1000 + POLL_GRACE_HEARTBEATS * this.settings.heartbeatMs())
      let status = 0
      let body: { events?: SignalEvent[]; replaced?: boolean } | undefined
      let proxyError: SignalError | undefined
      let retryAfterMs = 0
      try {
        // The token in a header, never in the URL (docs/http-api.md "Stream tickets").
        const response = await this.http.fetchImpl(url, {
          signal: abort.signal,
          cache: 'no-store',
          headers: { authorization: `Bearer ${this.settings.token()}` },
        })
        status = response.status
        retryAfterMs = Number(response.headers.get('retry-after') ?? 0) * 1000
        const text = await response.text()
        let parsed: { events?: SignalEvent[]; replaced?: boolean; error?: unknown } | undefined
        try {
          parsed = text ? JSON.parse(text) : undefined
        } catch {
          parsed = undefined
        }
        // Not sigpost's answer (a proxy's page): said as such if the registration is waiting on it.
        if (!parsed || (!response.ok && typeof parsed.error !== 'string')) proxyError = notSigpost('GET', '/v1/poll', response)
        body = response.ok ? parsed : undefined
      } catch {
        body = undefined
      } finally {
        this.pollsInFlight--
        clearTimeout(watchdog)
      }
      if (run !== this.run) return
      // Only sigpost's own 401 ends the session: a proxy asking for its login (or a portal) is not the server.
      if (status === 401 && !proxyError) {
        this.emit('fail', new SignalError('unauthorized', 'The session has ended on the server', 401))
        return
      }
      if (!body || !Array.isArray(body.events)) {
        failures++
        if (this.host.waiting() && (status === 0 || proxyError) && failures >= 2) {
          this.emit('fail', proxyError ?? new SignalError('network_error', `Cannot reach ${this.http.server}`))
          return
        }
        const pause = Math.max(retryAfterMs, backoff(failures, this.settings.maxBackoffMs))
        await new Promise<void>((resolve) => this.timers.later(pause, resolve))
        continue
      }
      failures = 0
      if (!body.replaced) this.plainPollAt = Date.now()
      for (const event of body.events) {
        if (run !== this.run) return
        this.emit('event', event)
      }
      if (body.replaced) {
        // Our own upgrade's stream took over: not a ping-pong with another tab.
        if (this.host.upgrading() || this.host.streaming()) continue
        this.emit('fail', new SignalError('replaced', 'Another connection of this session took over its event stream'))
        return
      }
      if (first) {
        first = false
        this.emit('ready', undefined)
      }
    }
  }
}
