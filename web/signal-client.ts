/**
 * The sigpost signalling client: register, send with `fetch`, receive one ordered event stream.
 *
 * Framework-free and isomorphic: it runs in browsers and in Node 20 (which has `fetch` but no
 * `EventSource`; there `auto` simply starts with long-poll). Nothing here knows about Lit or WebRTC.
 *
 * Receiving (API.md "Receiving"): Server-Sent Events (`GET /v1/events?ticket=`) or long-poll
 * (`GET /v1/poll?after=<id>&wait=<s>` with `Authorization: Bearer`), both driven by the same cursor (the
 * last seen id), so the client can resume after any drop and switch transports without losing or
 * repeating an event. The session token never goes into a URL (API.md "Stream tickets"): every
 * EventSource open — the probe and each resume included — first gets a single-use ticket
 * (`POST /v1/stream-tickets`), since EventSource cannot set headers. The time an open may take to say
 * `ready` covers the ticket request too, which is aborted with it.
 *
 * `auto` (API.md "The element, second edition"; engine.io's model with SSE in place of WebSocket) receives
 * over long-poll from the first moment, so `register()` resolves after one round trip behind any proxy, and
 * in parallel opens a probe stream (`?probe=1`, with its own ticket). Only when the probe's `ready` and first `heartbeat` both
 * arrive within PROBE_MS does it open the real stream with the cursor; that stream replaces the long-poll on
 * the server, the poll loop stops issuing polls meanwhile, and de-duplication by id absorbs any overlap, so
 * the upgrade loses and repeats nothing. A failed probe is not retried in that registration.
 *
 * Watchdogs, because a black-holed connection never errors: any SSE event (heartbeats included) counts as
 * life; a stream silent for 2.5 × heartbeatMs is resumed with the cursor; a resume whose `ready` does not
 * come within RESUME_READY_MS is abandoned and tried again (a browser may have reused a dead keep-alive
 * connection; an abandoned request's connection is not reused); after MAX_FAILED_RESUMES failed resumes in
 * a row `auto` goes back to long-poll for the rest of the registration. A long-poll unanswered
 * 2 × heartbeatMs past its wait is abandoned and re-issued.
 *
 * A stream that receives `replaced` (a newer stream of the session took over) stops for good: reconnecting
 * would take it back and start a ping-pong. A 401 means the session is gone: the client stops and says so.
 * Every request, and `register()` as a whole, settles within REQUEST_TIMEOUT_MS (`network_error`).
 */

// Types only from the schemas (TypeBox stays out of the bundle); the event names are plain values.
import type { ErrorBody, SignalEvent } from '../protocol/index.js'
import { SESSION_EVENT_TYPES } from '../protocol/names.js'

export type { SignalEvent }
export type { EventData, SessionEventType } from '../protocol/index.js'

export type TransportChoice = 'auto' | 'sse' | 'poll'
export type TransportKind = 'sse' | 'poll'

/** `201` body of `POST /v1/sessions`. */
export interface Registration {
  name: string
  token: string
  iceServers: RTCIceServer[]
  heartbeatMs: number
  graceMs: number
}

/** An `Error` with the contract's error `code` (or the client's own: `network_error`, `invalid_state`, `replaced`). */
export class SignalError extends Error {
  readonly code: string
  /** HTTP status, 0 when there was no response. */
  readonly status: number
  /** `proxy_error`: who answered instead of sigpost, when the answer says (its `Via`, else `Server`). */
  readonly answeredBy: string | undefined

  constructor(code: string, message: string, status = 0, answeredBy?: string) {
    super(message)
    this.name = 'SignalError'
    this.code = code
    this.status = status
    this.answeredBy = answeredBy
  }
}

/**
 * Who answered instead of sigpost, as the answer says: its `Via` (proxies add themselves there, e.g.
 * `1.1 proxy.corp (squid/5.7)`), else its `Server`. Cross-origin, a browser shows neither unless the
 * answer exposes them (a proxy's own answer carries no CORS headers at all: the browser reports a network
 * error then).
 */
function answeredBy(response: Response): string | undefined {
  const who = response.headers.get('via') ?? response.headers.get('server')
  return who ? who.slice(0, 200) : undefined
}

/** `proxy_error`: an answer that is not sigpost's JSON (a proxy's HTML 403/407/502, a captive portal's page). */
function notSigpost(method: string, path: string, response: Response): SignalError {
  const who = answeredBy(response)
  const type = response.headers.get('content-type')?.split(';')[0]
  return new SignalError(
    'proxy_error',
    `${method} ${path} was answered with HTTP ${response.status} by ${who ?? 'something other than sigpost'}${type ? ` (${type})` : ''}, not by sigpost: a proxy or a captive portal is in the way`,
    response.status,
    who,
  )
}

/** The session's event types (protocol/); `EventSource` only dispatches named events to listeners registered by name. */
export const EVENT_TYPES = SESSION_EVENT_TYPES

type EventSourceCtor = new (url: string) => EventSource

/** `auto`: the probe stream must bring `ready` and its first heartbeat within this time of opening. */
export const PROBE_MS = 3000
/** A resumed (or upgraded) stream whose `ready` takes longer than this is abandoned. */
export const RESUME_READY_MS = 2000
/** `auto` goes back to long-poll after this many failed resumes in a row. */
export const MAX_FAILED_RESUMES = 3
/** A stream with no event for this many heartbeat intervals is dead. */
export const SILENCE_HEARTBEATS = 2.5
/** A long-poll unanswered this many heartbeat intervals past its wait is abandoned. */
export const POLL_GRACE_HEARTBEATS = 2
/** Every request (and `register()` as a whole) settles within this time. */
export const REQUEST_TIMEOUT_MS = 20_000
/** A stream that falls silent again this soon after its `ready` counts as a failed resume too. */
const SHORT_LIVED_MS = 60_000

/** Why a request can hang in a browser: said in the `network_error` message (and so in the element's UI). */
const HANG_HINT =
  'The network may be down, or this browser already holds too many connections to the server: over ' +
  'HTTP/1.1 a browser opens at most six per host, and every open tab of the site holds one for its events ' +
  '(close a tab, or serve sigpost over HTTP/2, which lifts the limit).'

export interface SignalClientOptions {
  /** Base URL of the sigpost server, e.g. `https://host` (no trailing path needed). */
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

/** How many ids to remember for de-duplication; far more than a replay can overlap. */
const SEEN_LIMIT = 1024

export class SignalClient {
  readonly server: string
  registration: Registration | undefined
  /** `sse` or `poll` once a stream is attached. */
  transportInUse: TransportKind | undefined
  /** The id of the last event delivered: the cursor for resume and long-poll. */
  lastEventId: string | undefined

  private choice: TransportChoice
  private readonly options: SignalClientOptions
  private readonly fetchImpl: typeof fetch
  private readonly EventSourceImpl: EventSourceCtor | null
  /** Bumped whenever streams are (re)started or stopped; callbacks of an older generation do nothing. */
  private generation = 0
  private eventSource: EventSource | undefined
  /** Bumped by every EventSource open and by sseTrouble: callbacks of an abandoned open do nothing. */
  private sseAttempt = 0
  /** The ticket request of the stream being opened, aborted when that open is abandoned. */
  private ticketAbort: AbortController | undefined
  /** `auto`: the probe under way (its ticket request, then its stream). */
  private probe: { abort: AbortController; source?: EventSource } | undefined
  private pollAbort: AbortController | undefined
  /** Polls sent and not yet answered (only such a poll can take the stream back from our own upgrade). */
  private pollsInFlight = 0
  /** When a poll of ours last answered without `replaced` (Date.now()). */
  private plainPollAt = 0
  private timers = new Set<ReturnType<typeof setTimeout>>()
  private watchdog: ReturnType<typeof setTimeout> | undefined
  /** Resumes in a row whose `ready` did not come (or whose stream failed or fell silent again at once). */
  private failedResumes = 0
  /** `auto`: streaming did not work on this path; long-poll for the rest of the registration. */
  private streamingFailed = false
  /** `auto`: an upgrade from long-poll to SSE under way; the poll loop waits for its outcome. */
  private upgrading: { done: Promise<boolean>; settle: (ok: boolean) => void; startedAt: number } | undefined
  private waiter: Waiter | undefined
  private readonly seen = new Set<string>()
  private readonly seenOrder: string[] = []

  constructor(options: SignalClientOptions) {
    this.options = options
    this.server = options.server.replace(/\/+$/, '')
    this.choice = options.transport ?? 'auto'
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis)
    this.EventSourceImpl =
      options.EventSource === undefined
        ? ((globalThis as { EventSource?: EventSourceCtor }).EventSource ?? null)
        : options.EventSource
  }

  get transport(): TransportChoice {
    return this.choice
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
    this.lastEventId = undefined
    this.seen.clear()
    this.seenOrder.length = 0
    this.streamingFailed = false
    try {
      await this.settleWithin(this.connect(), `The event stream of ${this.server} did not become ready within ${this.requestTimeoutMs / 1000} s. ${HANG_HINT}`)
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

  private get requestTimeoutMs(): number {
    return this.options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
  }

  /** `promise`, or `network_error` with `message` once requestTimeoutMs has passed. */
  private settleWithin<T>(promise: Promise<T>, message: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SignalError('network_error', message)), this.requestTimeoutMs)
    })
    return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
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
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options: { auth?: boolean; token?: string; keepalive?: boolean; bearer?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (options.auth !== false) {
      const token = options.token ?? this.registration?.token
      if (!token) throw new SignalError('invalid_state', 'Not registered')
      headers.authorization = `Bearer ${token}`
    } else if (options.bearer) {
      headers.authorization = `Bearer ${options.bearer}`
    }
    let response: Response
    // A request that cannot start (no free connection) or finish (a dead network) must still settle.
    const abort = new AbortController()
    const timer = setTimeout(() => abort.abort(), this.requestTimeoutMs)
    // The caller may give up sooner (a stream open abandoned while its ticket is on its way).
    const giveUp = () => abort.abort()
    if (options.signal?.aborted) abort.abort()
    options.signal?.addEventListener('abort', giveUp, { once: true })
    let text: string
    try {
      response = await this.fetchImpl(this.server + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        keepalive: options.keepalive,
        cache: 'no-store',
        signal: abort.signal,
      })
      text = await response.text()
    } catch {
      throw new SignalError(
        'network_error',
        abort.signal.aborted
          ? `${method} ${path} did not finish within ${this.requestTimeoutMs / 1000} s. ${HANG_HINT}`
          : `Cannot reach ${this.server}`,
      )
    } finally {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', giveUp)
    }
    let data: unknown
    let json = true
    try {
      data = text ? JSON.parse(text) : undefined
    } catch {
      json = false
    }
    const error = data as Partial<ErrorBody> | undefined
    // sigpost answers every request with its JSON (or nothing: 204); an error always as {"error", "message"}.
    // Anything else came from something on the way (API.md "Media through a corporate proxy"). An error
    // with no body at all may still be Node's own (e.g. a 408 written by the HTTP server itself): it is
    // someone else's only when it says so (Via, Server) or is a proxy's by definition (407).
    const foreign = !json || (!response.ok && typeof error?.error !== 'string' && (text !== '' || response.status === 407 || answeredBy(response) !== undefined))
    if (foreign) throw notSigpost(method, path, response)
    if (!response.ok) {
      throw new SignalError(
        typeof error?.error === 'string' ? error.error : `http_${response.status}`,
        typeof error?.message === 'string' ? error.message : `${method} ${path} answered ${response.status}`,
        response.status,
      )
    }
    return data as T
  }


  // ---- streams -------------------------------------------------------------------------------------

  /** (Re)starts receiving with the current transport choice; resolves when the stream is ready. */
  private connect(): Promise<void> {
    this.stopStreams()
    const generation = this.generation
    const previous = this.waiter
    const ready = new Promise<void>((resolve, reject) => {
      this.waiter = { resolve, reject }
    })
    // A restart while a caller still waits hands the wait over to the new attempt.
    if (previous) ready.then(previous.resolve, previous.reject)
    this.failedResumes = 0
    if (this.choice === 'poll' || !this.EventSourceImpl) void this.pollLoop(generation)
    else if (this.choice === 'sse') this.openEventSource(generation, 'first')
    // auto: long-poll at once; the probe starts once the first poll has answered (pollLoop).
    else void this.pollLoop(generation)
    return ready
  }

  private stopStreams(): void {
    this.generation++
    this.eventSource?.close()
    this.eventSource = undefined
    this.ticketAbort?.abort()
    this.ticketAbort = undefined
    this.probe?.abort.abort()
    this.probe?.source?.close()
    this.probe = undefined
    this.pollAbort?.abort()
    this.pollAbort = undefined
    this.upgrading?.settle(false)
    this.upgrading = undefined
    clearTimeout(this.watchdog)
    this.watchdog = undefined
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }

  private later(generation: number, ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (generation === this.generation) fn()
    }, ms)
    this.timers.add(timer)
    return timer
  }

  private cancel(timer: ReturnType<typeof setTimeout> | undefined): void {
    if (timer === undefined) return
    clearTimeout(timer)
    this.timers.delete(timer)
  }

  private backoff(failures: number): number {
    return Math.min(250 * 2 ** Math.max(0, failures - 1), this.options.maxBackoffMs ?? 5000)
  }

  private get heartbeatMs(): number {
    return this.registration?.heartbeatMs || 15_000
  }

  private streamUrl(path: string, params: Record<string, string | undefined>): string {
    const url = new URL(this.server + path)
    for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value)
    return url.href
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
    if (this.seen.has(event.id)) return
    this.seen.add(event.id)
    this.seenOrder.push(event.id)
    if (this.seenOrder.length > SEEN_LIMIT) this.seen.delete(this.seenOrder.shift()!)
    this.lastEventId = event.id
    try {
      this.options.onEvent?.(event)
    } catch (error) {
      // A handler's bug must not stop the stream.
      console.error('sigpost: event handler failed', error)
    }
  }

  // ---- SSE -----------------------------------------------------------------------------------------

  /**
   * A fresh single-use ticket for one EventSource open (`POST /v1/stream-tickets` with the Bearer
   * header): the session token stays out of URLs, where proxies and access logs keep it. A SignalError
   * when the request failed or was aborted (a server without tickets thus ends up on long-poll, which
   * sends the token in a header).
   */
  private async streamTicket(signal: AbortSignal): Promise<string | SignalError> {
    try {
      return (await this.request<{ ticket: string }>('POST', '/v1/stream-tickets', undefined, { signal })).ticket
    } catch (error) {
      return error instanceof SignalError ? error : new SignalError('network_error', String(error))
    }
  }

  /**
   * Opens the session's stream from the cursor, with a fresh ticket. `first`: the first stream of
   * `transport="sse"`; `upgrade`: `auto` moving from long-poll to SSE; `resume`: after a drop, an error or
   * a silence. The time `ready` may take counts from before the ticket request, which it aborts: a ticket
   * request that hangs (a dead keep-alive connection, no free connection) is a failed open like any other.
   */
  private openEventSource(generation: number, mode: 'first' | 'upgrade' | 'resume'): void {
    this.eventSource?.close()
    this.eventSource = undefined
    this.ticketAbort?.abort()
    const attempt = ++this.sseAttempt
    const abort = new AbortController()
    this.ticketAbort = abort
    const current = () => generation === this.generation && attempt === this.sseAttempt
    // Within the session's grace, or a silent stream would let the session expire before giving up.
    const readyTimeoutMs = mode === 'first'
      ? Math.min(this.options.readyTimeoutMs ?? 5000, this.registration!.graceMs / 2 || Infinity)
      : RESUME_READY_MS
    const readyTimer = this.later(generation, readyTimeoutMs, () => {
      if (current()) this.sseTrouble(generation, this.eventSource, mode, 'timeout')
    })
    void this.streamTicket(abort.signal).then((ticket) => {
      // Timed out, stopped or restarted while the ticket was on its way.
      if (!current()) return
      this.ticketAbort = undefined
      if (typeof ticket !== 'string') {
        if (ticket.status === 401) this.fail(new SignalError('unauthorized', 'The session has ended on the server', 401))
        else void this.sseTrouble(generation, undefined, mode, 'error')
        return
      }
      // We reconnect ourselves (closing on every error) so that the cursor is always ours, in the URL.
      const source = new this.EventSourceImpl!(this.streamUrl('/v1/events', { ticket, lastEventId: this.lastEventId }))
      this.eventSource = source
      this.watchStream(generation, source, mode, readyTimer)
    })
  }

  /** The listeners of one opened stream: ready, heartbeats and events as life, replaced, errors. */
  private watchStream(generation: number, source: EventSource, mode: 'first' | 'upgrade' | 'resume', readyTimer: ReturnType<typeof setTimeout>): void {
    const openedAt = Date.now()
    let readyAt = 0
    const alive = () => {
      if (this.eventSource !== source) return
      clearTimeout(this.watchdog)
      this.watchdog = setTimeout(() => {
        if (generation !== this.generation || this.eventSource !== source) return
        // Silent again soon after a resume: that resume did not really work (a proxy that buffers after
        // its first bytes, a path that drops streams at once).
        if (Date.now() - readyAt < SHORT_LIVED_MS && mode !== 'first') this.failedResumes++
        this.sseTrouble(generation, source, 'resume', 'silence')
      }, SILENCE_HEARTBEATS * this.heartbeatMs)
    }
    source.addEventListener('ready', () => {
      if (this.eventSource !== source) return
      readyAt = Date.now()
      this.cancel(readyTimer)
      this.failedResumes = 0
      alive()
      if (mode === 'upgrade') this.upgrading?.settle(true)
      this.upgrading = undefined
      this.markReady('sse')
    })
    source.addEventListener('heartbeat', alive)
    const onMessage = (type: string) => (message: Event) => {
      if (this.eventSource !== source) return
      alive()
      const { data, lastEventId } = message as MessageEvent<string>
      let parsed: unknown
      try {
        parsed = JSON.parse(data)
      } catch {
        return
      }
      // Typed as the contract says; not validated here (that would bundle the schemas' validator).
      this.receive({ id: lastEventId, event: type, data: parsed } as SignalEvent)
    }
    for (const type of EVENT_TYPES) source.addEventListener(type, onMessage(type))
    source.addEventListener('message', onMessage('message'))
    source.addEventListener('replaced', () => {
      if (this.eventSource !== source) return
      // A poll of ours that was already on its way when the upgrade began took the stream back: not
      // another connection of the session, just the overlap: that poll is still unanswered, or answered
      // without `replaced` (it found events at once) since the upgrade began. Stay on long-poll. Otherwise
      // it was someone else (a take-over of the name), however soon after the upgrade.
      if (mode === 'upgrade' && Date.now() - openedAt < PROBE_MS && (this.pollsInFlight > 0 || this.plainPollAt >= openedAt)) {
        this.upgradeFailed(generation, source)
        return
      }
      // A newer stream of this session took over; reconnecting would only take it back (ping-pong).
      this.fail(new SignalError('replaced', 'Another connection of this session took over its event stream'))
    })
    source.onerror = () => {
      if (this.eventSource !== source) return
      this.sseTrouble(generation, source, mode, 'error')
    }
  }

  /** Ends an open under way: its ticket request, or its stream (undefined while the ticket was on its way). */
  private abandonOpen(source: EventSource | undefined): void {
    this.sseAttempt++
    this.ticketAbort?.abort()
    this.ticketAbort = undefined
    source?.close()
    if (this.eventSource === source) this.eventSource = undefined
    clearTimeout(this.watchdog)
  }

  private upgradeFailed(generation: number, source: EventSource | undefined): void {
    this.abandonOpen(source)
    this.streamingFailed = true
    const upgrading = this.upgrading
    this.upgrading = undefined
    upgrading?.settle(false)
    // Was the upgrade's stream ready already? Then the poll loop has stopped: start it again.
    if (!upgrading && generation === this.generation) void this.pollLoop(generation)
  }

  private async sseTrouble(generation: number, source: EventSource | undefined, mode: 'first' | 'upgrade' | 'resume', why: 'timeout' | 'error' | 'silence'): Promise<void> {
    this.abandonOpen(source)
    if (mode === 'upgrade' && this.upgrading) {
      // The proven path did not carry the real stream after all: stay on long-poll.
      this.upgradeFailed(generation, source)
      return
    }
    if (why === 'error') {
      // EventSource hides the status; a cheap authenticated GET tells a lost session from a lost network.
      const status = await this.sessionStatus()
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
      void this.pollLoop(generation)
      return
    }
    // A silence or a resume that did not say ready: at once, on a new connection. An error: with back-off.
    const pause = why === 'error' ? this.backoff(this.failedResumes) : 0
    this.later(generation, pause, () => this.openEventSource(generation, 'resume'))
  }

  /**
   * `auto` on long-poll: a probe stream tells whether streaming works on this path. Proven (its `ready`
   * and first `heartbeat` within PROBE_MS of starting, its ticket request included): the real stream
   * opens with the cursor. Not proven: long-poll stays, and the probe is not tried again in this
   * registration. The probe's ticket is used up like any stream open's.
   */
  private startProbe(generation: number): void {
    if (this.probe || this.streamingFailed || !this.EventSourceImpl) return
    const probe: { abort: AbortController; source?: EventSource } = { abort: new AbortController() }
    this.probe = probe
    let ready = false
    let beat = false
    const settle = (proven: boolean) => {
      if (this.probe !== probe) return
      probe.abort.abort()
      probe.source?.close()
      this.probe = undefined
      this.cancel(timer)
      if (generation !== this.generation) return
      if (!proven) this.streamingFailed = true
      this.options.onProbe?.(proven)
      if (proven) this.upgrade(generation)
    }
    const timer = this.later(generation, PROBE_MS, () => settle(false))
    void this.streamTicket(probe.abort.signal).then((ticket) => {
      if (this.probe !== probe) return
      // No ticket (a server without tickets, a path that holds the request back): no streaming.
      if (typeof ticket !== 'string') {
        settle(false)
        return
      }
      const source = new this.EventSourceImpl!(this.streamUrl('/v1/events', { ticket, probe: '1' }))
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

  private upgrade(generation: number): void {
    let settle!: (ok: boolean) => void
    const done = new Promise<boolean>((resolve) => (settle = resolve))
    this.upgrading = { done, settle, startedAt: Date.now() }
    this.openEventSource(generation, 'upgrade')
  }

  /** Status of `GET /v1/sessions` with our token, 0 when the server is unreachable. */
  private async sessionStatus(): Promise<number> {
    try {
      await this.request('GET', '/v1/sessions')
      return 200
    } catch (error) {
      return (error as SignalError).status ?? 0
    }
  }

  // ---- long-poll -----------------------------------------------------------------------------------

  /**
   * Polls until the generation changes, or (auto) an upgrade to SSE succeeds. While an upgrade is under
   * way no new poll is sent: the SSE stream replaces the current one, and a new poll would take it back.
   */
  private async pollLoop(generation: number): Promise<void> {
    let first = true
    let failures = 0
    while (generation === this.generation) {
      if (this.upgrading) {
        const upgraded = await this.upgrading.done
        if (upgraded || generation !== this.generation) return
      }
      if (this.transportInUse === 'sse' && this.eventSource) return
      const abort = new AbortController()
      this.pollAbort = abort
      this.pollsInFlight++
      // The first poll does not wait, so that `register()` resolves as soon as the stream is attached.
      const wait = first ? 0 : (this.options.pollWaitS ?? 25)
      const url = this.streamUrl('/v1/poll', { after: this.lastEventId, wait: String(wait) })
      // A poll that outlives its wait by far went into a black hole (a half-open connection): ask again.
      const watchdog = setTimeout(() => abort.abort(), wait * 1000 + POLL_GRACE_HEARTBEATS * this.heartbeatMs)
      let status = 0
      let body: { events?: SignalEvent[]; replaced?: boolean } | undefined
      let proxyError: SignalError | undefined
      let retryAfterMs = 0
      try {
        // The token in a header, never in the URL (API.md "Stream tickets").
        const response = await this.fetchImpl(url, {
          signal: abort.signal,
          cache: 'no-store',
          headers: { authorization: `Bearer ${this.registration!.token}` },
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
      if (generation !== this.generation) return
      if (status === 401) {
        this.fail(new SignalError('unauthorized', 'The session has ended on the server', 401))
        return
      }
      if (!body || !Array.isArray(body.events)) {
        failures++
        if (this.waiter && (status === 0 || proxyError) && failures >= 2) {
          this.fail(proxyError ?? new SignalError('network_error', `Cannot reach ${this.server}`))
          return
        }
        await new Promise<void>((resolve) => this.later(generation, Math.max(retryAfterMs, this.backoff(failures)), resolve))
        continue
      }
      failures = 0
      if (!body.replaced) this.plainPollAt = Date.now()
      for (const event of body.events) {
        if (generation !== this.generation) return
        this.receive(event)
      }
      if (body.replaced) {
        // Our own upgrade's stream took over: not a ping-pong with another tab.
        if (this.upgrading || (this.transportInUse === 'sse' && this.eventSource)) continue
        this.fail(new SignalError('replaced', 'Another connection of this session took over its event stream'))
        return
      }
      if (first) {
        first = false
        this.markReady('poll')
        if (this.choice === 'auto') this.startProbe(generation)
      }
    }
  }
}
