/**
 * The sigpost signalling client: register, send with `fetch`, receive one ordered event stream.
 *
 * Framework-free and isomorphic: it runs in browsers and in Node 20 (which has `fetch` but no
 * `EventSource`; there `auto` simply starts with long-poll). Nothing here knows about Lit or WebRTC.
 *
 * This file is the facade, `sigpost/client`'s public API (engine.io-client's socket.ts); the moving parts
 * are classes under `signal/`, each with `open(cursor)`, `close()` and typed events: `http` (REST calls,
 * errors, stream tickets), `cursor` (the last id delivered and de-duplication), `sse-transport`,
 * `poll-transport` and `upgrade` (auto's probe). What to do when a transport is in trouble is decided here.
 *
 * Receiving (docs/http-api.md "Receiving"): Server-Sent Events (`GET /v1/events?ticket=`) or long-poll
 * (`GET /v1/poll?after=<id>&wait=<s>` with `Authorization: Bearer`), both driven by the same cursor, so
 * the client can resume after any drop and switch transports without losing or repeating an event. The
 * session token never goes into a URL (docs/http-api.md "Stream tickets"): every EventSource open — the
 * probe and each resume included — first gets a single-use ticket, since EventSource cannot set headers.
 *
 * `auto` (docs/element.md "Transports"): long-poll at once, SSE once a probe proves it works on this path
 * (signal/upgrade.ts). A failed probe is not retried in that registration.
 *
 * Watchdogs, because a black-holed connection never errors: a silent stream is resumed with the cursor; a
 * resume whose `ready` does not come within RESUME_READY_MS is abandoned and tried again (a browser may have
 * reused a dead keep-alive connection; an abandoned request's connection is not reused); after
 * MAX_FAILED_RESUMES failed resumes in a row `auto` goes back to long-poll for the rest of the registration.
 *
 * A stream that receives `replaced` (a newer stream of the session took over) stops for good: reconnecting
 * would take it back and start a ping-pong. A 401 means the session is gone: the client stops and says so.
 * Every request, and `register()` as a whole, settles within REQUEST_TIMEOUT_MS (`network_error`).
 */

// Types only from the schemas (TypeBox stays out of the bundle); the event names are plain values.
import type { SignalEvent } from '../protocol/index.js'
import { Cursor } from './signal/cursor.js'
import { HANG_HINT, Http, REQUEST_TIMEOUT_MS, SignalError, resolveServer, type RequestOptions } from './signal/http.js'
import { PollTransport } from './signal/poll-transport.js'
import { SseTransport, type EventSourceCtor, type SseMode } from './signal/sse-transport.js'
import { backoff, Timers, type TransportKind } from './signal/transport.js'
import { PROBE_MS, Upgrade } from './signal/upgrade.js'

export type { SignalEvent }
export type { EventData, SessionEventType } from '../protocol/index.js'
export type { TransportKind }
export { SignalError, REQUEST_TIMEOUT_MS, PROBE_MS, resolveServer }
export { EVENT_TYPES, RESUME_READY_MS, SILENCE_HEARTBEATS } from './signal/sse-transport.js'
export { POLL_GRACE_HEARTBEATS } from './signal/poll-transport.js'

export type TransportChoice = 'auto' | 'sse' | 'poll'

/** `201` body of `POST /v1/sessions`. */
export interface Registration {
  name: string
  token: string
  iceServers: RTCIceServer[]
  heartbeatMs: number
  graceMs: number
}

/** `auto` goes back to long-poll after this many failed resumes in a row. */
export const MAX_FAILED_RESUMES = 3

export interface SignalClientOptions {
  /** Base URL of the sigpost server, e.g. `https://host` or `https://host/signal`; in a browser also relative to the page (`/signal`). Anything else throws `invalid_server` at once. */
  server: string
  transport?: TransportChoice
  /** `sse`: the first stream must say `ready` within this time, in ms (default 5000, capped at graceMs / 2). */
  readyTimeoutMs?: number
  /** Every request, and `register()` as a whole, rejects with `network_error` after this long, in ms (default 20000). */
  requestTimeoutMs?: number
  /** Long-poll `wait`, in seconds. */
  pollWaitS?: number
  /** Longest pause between reconnect attempts, in ms. */
  maxBackoffMs?: number
  fetch?: typeof fetch
  /** `null` disables SSE (Node 20 has no EventSource). Defaults to `globalThis.EventSource`. */
  EventSource?: EventSourceCtor | null
  /** Every stream event, once, in order. */
  onEvent?: (event: SignalEvent) => void
  /** The transport in use changed (first attach included). */
  onTransport?: (transport: TransportKind) => void
  /** `auto`: what the probe stream found (`proven`: streaming works on this path, the upgrade follows). */
  onProbe?: (proven: boolean) => void
  /** The stream stopped for good: `unauthorized` (session gone) or `replaced` (another stream took over). */
  onError?: (error: SignalError) => void
}

interface Waiter {
  resolve: () => void
  reject: (error: SignalError) => void
}

export class SignalClient {
  readonly server: string
  registration: Registration | undefined
  /** `sse` or `poll` once a stream is attached. */
  transportInUse: TransportKind | undefined

  private choice: TransportChoice
  private readonly options: SignalClientOptions
  private readonly http: Http
  private readonly cursor = new Cursor()
  /** Undefined where there is no EventSource (Node 20, or `EventSource: null`). */
  private readonly sse: SseTransport | undefined
  private readonly upgrade: Upgrade | undefined
  private readonly poll: PollTransport
  /** Bumped whenever streams are (re)started or stopped; callbacks of an older generation do nothing. */
  private generation = 0
  /** The pauses before a resume; cleared with the streams. */
  private readonly timers = new Timers()
  /** Resumes in a row whose `ready` did not come (or whose stream failed or fell silent again at once). */
  private failedResumes = 0
  /** `auto`: streaming did not work on this path; long-poll for the rest of the registration. */
  private streamingFailed = false
  private waiter: Waiter | undefined

  constructor(options: SignalClientOptions) {
    this.options = options
    this.server = resolveServer(options.server)
    this.choice = options.transport ?? 'auto'
    const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis)
    this.http = new Http(this.server, fetchImpl, options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, () => this.registration?.token)
    const EventSourceImpl =
      options.EventSource === undefined
        ? ((globalThis as { EventSource?: EventSourceCtor }).EventSource ?? null)
        : options.EventSource
    const heartbeatMs = () => this.registration?.heartbeatMs || 15_000

    this.poll = new PollTransport(
      this.http,
      { token: () => this.registration!.token, heartbeatMs, pollWaitS: options.pollWaitS, maxBackoffMs: options.maxBackoffMs },
      {
        upgrading: () => this.upgrade?.pending,
        streaming: () => this.transportInUse === 'sse' && !!this.sse?.streaming,
        waiting: () => this.waiter !== undefined,
      },
    )
    this.poll.on('event', (event) => this.receive(event))
    this.poll.on('fail', (error) => this.fail(error))
    this.poll.on('ready', () => {
      this.markReady('poll')
      if (this.choice === 'auto' && !this.streamingFailed) this.upgrade?.open(this.cursor)
    })

    if (!EventSourceImpl) return
    // Within the session's grace, or a silent stream would let the session expire before giving up.
    const firstReadyMs = () => Math.min(options.readyTimeoutMs ?? 5000, this.registration!.graceMs / 2 || Infinity)
    const sse = new SseTransport(this.http, EventSourceImpl, { firstReadyMs, heartbeatMs })
    this.sse = sse
    sse.on('event', (event) => this.receive(event))
    sse.on('unauthorized', (error) => this.fail(error))
    sse.on('ready', (mode) => {
      this.failedResumes = 0
      this.upgrade?.finish(mode === 'upgrade' ? true : undefined)
      this.markReady('sse')
    })
    sse.on('trouble', ({ mode, why, shortLived }) => {
      if (shortLived) this.failedResumes++
      void this.sseTrouble(mode, why)
    })
    sse.on('replaced', ({ mode, openedAt }) => {
      // A poll of ours that was already on its way when the upgrade began took the stream back: not
      // another connection of the session, just the overlap: that poll is still unanswered, or answered
      // without `replaced` (it found events at once) since the upgrade began. Stay on long-poll. Otherwise
      // it was someone else (a take-over of the name), however soon after the upgrade.
      if (mode === 'upgrade' && Date.now() - openedAt < PROBE_MS && (this.poll.pollsInFlight > 0 || this.poll.plainPollAt >= openedAt)) {
        this.upgradeFailed()
        return
      }
      // A newer stream of this session took over; reconnecting would only take it back (ping-pong).
      this.fail(new SignalError('replaced', 'Another connection of this session took over its event stream'))
    })

    this.upgrade = new Upgrade(this.http, EventSourceImpl, sse)
    this.upgrade.on('probe', (proven) => {
      if (!proven) this.streamingFailed = true
      this.options.onProbe?.(proven)
    })
  }

  get transport(): TransportChoice {
    return this.choice
  }

  /** The id of the last event delivered: the cursor for resume and long-poll. */
  get lastEventId(): string | undefined {
    return this.cursor.lastEventId
  }

  set lastEventId(id: string | undefined) {
    this.cursor.lastEventId = id
  }

  /**
   * `POST /v1/sessions`, then attaches the stream; resolves once it is ready. With verified names,
   * `credentials` is the JWT from the page's backend (sent as the registration's Bearer; `name` may then be
   * omitted: the JWT names the session), and `takeOver` ends this name's older session elsewhere.
   */
  async register(name?: string, options: { credentials?: string; takeOver?: boolean } = {}): Promise<Registration> {
    if (this.registration) throw new SignalError('invalid_state', `Already registered as ${this.registration.name}`)
    const body: { name?: string; takeOver?: boolean } = {}
    if (name) body.name = name
    if (options.takeOver) body.takeOver = true
    const registration = await this.request<Registration>('POST', '/v1/sessions', body, {
      auth: false,
      bearer: options.credentials,
    })
    this.registration = registration
    this.cursor.reset()
    this.streamingFailed = false
    try {
      await this.http.settleWithin(this.connect(), `The event stream of ${this.server} did not become ready within ${this.http.requestTimeoutMs / 1000} s. ${HANG_HINT}`)
    } catch (error) {
      this.close()
      throw error
    }
    return registration
  }

  /** Changes the transport; a live stream is replaced at once, resuming from the last seen id. */
  async setTransport(choice: TransportChoice): Promise<void> {
    if (choice === this.choice) return
    this.choice = choice
    // A choice made by hand gives `auto` a fresh chance to upgrade.
    this.streamingFailed = false
    if (this.registration) await this.connect()
  }

  /** Ends the session on the server (`DELETE /v1/sessions/current`) and stops the stream. */
  async unregister(options: { keepalive?: boolean } = {}): Promise<void> {
    if (!this.registration) return
    const token = this.registration.token
    // Stop first: the server closes our stream, and that must not look like a failure.
    this.close()
    await this.request('DELETE', '/v1/sessions/current', undefined, { token, keepalive: options.keepalive })
  }

  /** Stops every stream, timer and request of this client and forgets the session (no server call). */
  close(): void {
    this.stopStreams()
    this.registration = undefined
    this.transportInUse = undefined
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.reject(new SignalError('invalid_state', 'The client was closed'))
  }

  /**
   * One authenticated REST call. Resolves with the JSON body (undefined for 204); rejects with a
   * SignalError carrying the server's `error` code, or `network_error` when there was no response.
   */
  request<T = unknown>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    return this.http.request<T>(method, path, body, options)
  }

  // ---- streams -------------------------------------------------------------------------------------

  /** (Re)starts receiving with the current transport choice; resolves when the stream is ready. */
  private connect(): Promise<void> {
    this.stopStreams()
    const previous = this.waiter
    const ready = new Promise<void>((resolve, reject) => {
      this.waiter = { resolve, reject }
    })
    // A restart while a caller still waits hands the wait over to the new attempt.
    if (previous) ready.then(previous.resolve, previous.reject)
    this.failedResumes = 0
    if (this.choice === 'sse' && this.sse) this.sse.open(this.cursor, 'first')
    // poll, or auto: long-poll at once; the probe starts once the first poll has answered.
    else this.poll.open(this.cursor)
    return ready
  }

  private stopStreams(): void {
    this.generation++
    this.sse?.close()
    this.upgrade?.close()
    this.poll.close()
    this.timers.clear()
  }

  private markReady(transport: TransportKind): void {
    if (this.transportInUse !== transport) {
      this.transportInUse = transport
      this.options.onTransport?.(transport)
    }
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.resolve()
  }

  /** The stream cannot go on: tell whoever waits for `ready`, or the page. */
  private fail(error: SignalError): void {
    this.stopStreams()
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter) waiter.reject(error)
    else this.options.onError?.(error)
  }

  private receive(event: SignalEvent): void {
    if (!this.cursor.advance(event)) return
    try {
      this.options.onEvent?.(event)
    } catch (error) {
      // A handler's bug must not stop the stream.
      console.error('sigpost: event handler failed', error)
    }
  }

  /** The upgrade's stream did not carry the session after all: long-poll for the rest of the registration. */
  private upgradeFailed(): void {
    this.sse?.abandon()
    this.streamingFailed = true
    // Was the upgrade's stream ready already? Then the poll loop has stopped: start it again.
    if (!this.upgrade?.finish(false)) this.poll.open(this.cursor)
  }

  /** An SSE open failed or its stream died (the transport has abandoned it): resume, back off or fall back. */
  private async sseTrouble(mode: SseMode, why: 'timeout' | 'error' | 'silence'): Promise<void> {
    const generation = this.generation
    if (mode === 'upgrade' && this.upgrade?.pending) {
      // The proven path did not carry the real stream after all: stay on long-poll.
      this.upgradeFailed()
      return
    }
    if (why === 'error') {
      // EventSource hides the status; a cheap authenticated GET tells a lost session from a lost network.
      const status = await this.http.sessionStatus()
      if (generation !== this.generation) return
      if (status === 401) {
        this.fail(new SignalError('unauthorized', 'The session has ended on the server', 401))
        return
      }
    }
    if (why !== 'silence') this.failedResumes++
    if (this.waiter && mode === 'first') {
      // transport="sse" and the very first stream did not come up.
      if (why === 'timeout' || this.failedResumes >= MAX_FAILED_RESUMES) {
        this.fail(new SignalError('network_error', 'The event stream did not become ready'))
        return
      }
    }
    if (this.choice === 'auto' && this.failedResumes >= MAX_FAILED_RESUMES) {
      // Streaming stopped working on this path: long-poll for the rest of the registration.
      this.streamingFailed = true
      this.poll.open(this.cursor)
      return
    }
    // A silence or a resume that did not say ready: at once, on a new connection. An error: with back-off.
    const pause = why === 'error' ? backoff(this.failedResumes, this.options.maxBackoffMs) : 0
    this.timers.later(pause, () => this.sse?.open(this.cursor, 'resume'))
  }
}
