/**
 * The sigpost signalling client: register, send with `fetch`, receive one ordered event stream.
 *
 * Framework-free and isomorphic: it runs in browsers and in Node 20 (which has `fetch` but no
 * `EventSource`; there `auto` simply starts with long-poll). Nothing here knows about Lit or WebRTC.
 *
 * Receiving (API.md "Receiving"): Server-Sent Events (`GET /v1/events?ticket=`) or long-poll
 * (`GET /v1/poll?after=<id>&wait=<s>` with `Authorization: Bearer`), both driven by the same cursor (the
 * last seen id), so the client can resume after any drop and switch transports without losing or
 * repeating an event. The session token never goes into a URL (API.md "Stream tickets"): each
 * EventSource open first gets a single-use ticket (`POST /v1/stream-tickets`), since EventSource cannot
 * set headers.
 * `auto` starts with SSE and falls back to long-poll when the stream does not deliver its `ready` within
 * `readyTimeoutMs` (5 s, as API.md promises; half the session's grace if that is shorter, so that the
 * session cannot expire before the fallback) or fails `maxSseErrors` times in a row — what a proxy that
 * buffers streaming responses looks like from a browser. Once on long-poll, `auto` stays there.
 * A stream that receives `replaced` (a newer stream of the session took over) stops for good: reconnecting
 * would take it back and start a ping-pong. A 401 means the session is gone: the client stops and says so.
 */

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

/** One event of the session's stream, in the long-poll envelope (SSE events are mapped to it). */
export interface SignalEvent<T = any> {
  id: string
  event: string
  data: T
}

/** An `Error` with the contract's error `code` (or the client's own: `network_error`, `invalid_state`, `replaced`). */
export class SignalError extends Error {
  readonly code: string
  /** HTTP status, 0 when there was no response. */
  readonly status: number

  constructor(code: string, message: string, status = 0) {
    super(message)
    this.name = 'SignalError'
    this.code = code
    this.status = status
  }
}

/** Event types API.md names; `EventSource` only dispatches named events to listeners registered by name. */
export const EVENT_TYPES = [
  'incomingCall',
  'callResponse',
  'startCommunication',
  'iceCandidate',
  'sdp',
  'stopCommunication',
] as const

type EventSourceCtor = new (url: string) => EventSource

export interface SignalClientOptions {
  /** Base URL of the sigpost server, e.g. `https://host` (no trailing path needed). */
  server: string
  transport?: TransportChoice
  /** `auto`: fall back to long-poll when SSE has not said `ready` within this time, in ms (default 5000, capped at graceMs / 2). */
  readyTimeoutMs?: number
  /** `auto`: fall back to long-poll after this many consecutive SSE failures. */
  maxSseErrors?: number
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
  private pollAbort: AbortController | undefined
  private timers = new Set<ReturnType<typeof setTimeout>>()
  private sseErrors = 0
  /** Bumped by every EventSource open and by sseTrouble: a ticket that arrives for an abandoned open is dropped. */
  private sseAttempt = 0
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
    try {
      await this.connect()
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
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options: { auth?: boolean; token?: string; keepalive?: boolean; bearer?: string } = {},
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
    try {
      response = await this.fetchImpl(this.server + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        keepalive: options.keepalive,
        cache: 'no-store',
      })
    } catch {
      throw new SignalError('network_error', `Cannot reach ${this.server}`)
    }
    const text = await response.text().catch(() => '')
    let data: any
    try {
      data = text ? JSON.parse(text) : undefined
    } catch {
      data = undefined
    }
    if (!response.ok) {
      throw new SignalError(
        typeof data?.error === 'string' ? data.error : `http_${response.status}`,
        typeof data?.message === 'string' ? data.message : `${method} ${path} answered ${response.status}`,
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
    this.sseErrors = 0
    if (this.choice === 'poll' || !this.EventSourceImpl) void this.pollLoop(generation)
    else void this.openEventSource(generation)
    return ready
  }

  private stopStreams(): void {
    this.generation++
    this.eventSource?.close()
    this.eventSource = undefined
    this.pollAbort?.abort()
    this.pollAbort = undefined
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }

  private later(generation: number, ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (generation === this.generation) fn()
    }, ms)
    this.timers.add(timer)
  }

  private backoff(failures: number): number {
    return Math.min(250 * 2 ** Math.max(0, failures - 1), this.options.maxBackoffMs ?? 5000)
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

  /**
   * A fresh single-use ticket for one EventSource open: the session token stays out of URLs, where
   * proxies and access logs keep it. undefined: the request failed and sseTrouble has taken over (a
   * server without tickets thus ends up on long-poll, which sends the token in a header).
   */
  private async streamTicket(generation: number, attempt: number): Promise<string | undefined> {
    try {
      return (await this.request<{ ticket: string }>('POST', '/v1/stream-tickets')).ticket
    } catch (error) {
      const e = error as SignalError
      if (generation !== this.generation || attempt !== this.sseAttempt) return undefined
      if (e.status === 401) this.fail(new SignalError('unauthorized', 'The session has ended on the server', 401))
      else void this.sseTrouble(generation, 'error')
      return undefined
    }
  }

  private async openEventSource(generation: number): Promise<void> {
    const attempt = ++this.sseAttempt
    let ready = false
    // Within the session's grace, or a silent stream would let the session expire before the fallback.
    const readyTimeoutMs = Math.min(this.options.readyTimeoutMs ?? 5000, this.registration!.graceMs / 2 || Infinity)
    // The ready time-out covers getting the ticket too: a proxy that holds requests back is caught either way.
    this.later(generation, readyTimeoutMs, () => {
      if (!ready) this.sseTrouble(generation, 'timeout')
    })
    const ticket = await this.streamTicket(generation, attempt)
    // Timed out (and perhaps on long-poll by now), stopped or restarted while the ticket was on its way.
    if (!ticket || generation !== this.generation || attempt !== this.sseAttempt) return
    // We reconnect ourselves (closing on every error) so that the cursor is always ours, in the URL.
    const source = new this.EventSourceImpl!(this.streamUrl('/v1/events', { ticket, lastEventId: this.lastEventId }))
    this.eventSource = source
    source.addEventListener('ready', () => {
      if (generation !== this.generation) return
      ready = true
      this.sseErrors = 0
      this.markReady('sse')
    })
    const onMessage = (type: string) => (message: Event) => {
      if (generation !== this.generation) return
      const { data, lastEventId } = message as MessageEvent<string>
      let parsed: unknown
      try {
        parsed = JSON.parse(data)
      } catch {
        return
      }
      this.receive({ id: lastEventId, event: type, data: parsed })
    }
    for (const type of EVENT_TYPES) source.addEventListener(type, onMessage(type))
    source.addEventListener('message', onMessage('message'))
    // A newer stream of this session took over; reconnecting would only take it back (ping-pong).
    source.addEventListener('replaced', () => {
      if (generation !== this.generation) return
      this.fail(new SignalError('replaced', 'Another connection of this session took over its event stream'))
    })
    source.onerror = () => {
      if (generation !== this.generation) return
      this.sseTrouble(generation, 'error')
    }
  }

  private async sseTrouble(generation: number, why: 'timeout' | 'error'): Promise<void> {
    this.sseAttempt++
    this.eventSource?.close()
    this.eventSource = undefined
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.sseErrors++
    if (why === 'error') {
      // EventSource hides the status; a cheap authenticated GET tells a lost session from a lost network.
      const status = await this.probe()
      if (generation !== this.generation) return
      if (status === 401) {
        this.fail(new SignalError('unauthorized', 'The session has ended on the server', 401))
        return
      }
    }
    const maxErrors = this.options.maxSseErrors ?? 3
    if (this.choice === 'auto' && (why === 'timeout' || this.sseErrors >= maxErrors)) {
      void this.pollLoop(generation)
      return
    }
    if (this.waiter && (why === 'timeout' || this.sseErrors >= maxErrors)) {
      this.fail(new SignalError('network_error', 'The event stream did not become ready'))
      return
    }
    this.later(generation, this.backoff(this.sseErrors), () => void this.openEventSource(generation))
  }

  /** Status of `GET /v1/sessions` with our token, 0 when the server is unreachable. */
  private async probe(): Promise<number> {
    try {
      await this.request('GET', '/v1/sessions')
      return 200
    } catch (error) {
      return (error as SignalError).status ?? 0
    }
  }

  private async pollLoop(generation: number): Promise<void> {
    let first = true
    let failures = 0
    while (generation === this.generation) {
      const abort = new AbortController()
      this.pollAbort = abort
      // The first poll does not wait, so that `register()` resolves as soon as the stream is attached.
      const wait = first ? 0 : (this.options.pollWaitS ?? 25)
      const url = this.streamUrl('/v1/poll', { after: this.lastEventId, wait: String(wait) })
      // A poll that outlives its wait by far went into a black hole (a half-open connection): ask again.
      const watchdog = setTimeout(() => abort.abort(), (wait + 15) * 1000)
      let status = 0
      let body: { events?: SignalEvent[]; replaced?: boolean } | undefined
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
        body = response.ok ? await response.json() : undefined
      } catch {
        body = undefined
      } finally {
        clearTimeout(watchdog)
      }
      if (generation !== this.generation) return
      if (status === 401) {
        this.fail(new SignalError('unauthorized', 'The session has ended on the server', 401))
        return
      }
      if (!body || !Array.isArray(body.events)) {
        failures++
        if (this.waiter && status === 0 && failures >= 2) {
          this.fail(new SignalError('network_error', `Cannot reach ${this.server}`))
          return
        }
        await new Promise<void>((resolve) => this.later(generation, Math.max(retryAfterMs, this.backoff(failures)), resolve))
        continue
      }
      failures = 0
      if (first) {
        first = false
        this.markReady('poll')
      }
      if (body.replaced) {
        this.fail(new SignalError('replaced', 'Another connection of this session took over its event stream'))
        return
      }
      for (const event of body.events) {
        if (generation !== this.generation) return
        this.receive(event)
      }
    }
  }
}
