// SignalClient's REST calls: one authenticated fetch that always settles, and the contract's errors (or a proxy's) as SignalError.
import type { ErrorBody } from '../../protocol/index.js'

/** Every request (and `register()` as a whole) settles within this time. */
export const REQUEST_TIMEOUT_MS = 20_000

/** Why a request can hang in a browser: said in the `network_error` message (and so in the element's UI). */
export const HANG_HINT =
  'The network may be down, or this browser already holds too many connections to the server: over ' +
  'HTTP/1.1 a browser opens at most six per host, and every open tab of the site holds one for its events ' +
  '(close a tab, or serve sigpost over HTTP/2, which lifts the limit).'

/** An `Error` with the contract's error `code` (or the client's own: `network_error`, `invalid_state`, `replaced`). */
export class SignalError extends Error {
  readonly code: string
  /** HTTP status, 0 when there was no response. */
  readonly status: number
  /** `proxy_error`: who answered instead of sigpost, when the answer says (its `Via`, else `Server`). */
  readonly answeredBy: string | undefined
  /** `rate_limited` and the like: the answer's `Retry-After`, in seconds, when it had one. */
  retryAfterS: number | undefined

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

/**
 * The server's base URL, absolute, without a trailing slash. A relative one (`/signal`, `./signal`,
 * `//host/signal`) is resolved against the page (`globalThis.location`); without a page (Node) it is an
 * error, as is anything but http(s) and a host name without a scheme (`localhost:3000`, `example.com`):
 * `invalid_server` at once, rather than requests that fail later for a reason that names something else.
 */
export function resolveServer(server: string): string {
  const raw = String(server ?? '').trim()
  const page = (globalThis as { location?: { href?: string } }).location?.href
  const invalid = (why: string) => new SignalError('invalid_server', `server "${raw}" ${why}`)
  const hasScheme = /^[a-z][a-z0-9+.-]*:/i.test(raw)
  if (!raw && !page) throw invalid('is empty: give the sigpost server\'s URL, e.g. https://host or https://host/signal')
  if (!hasScheme && raw && !/^[./]/.test(raw)) {
    throw invalid(`has no scheme: did you mean https://${raw}? (a path on this site starts with /, e.g. /signal)`)
  }
  if (!hasScheme && !page) throw invalid('is relative and there is no page to resolve it against: give an absolute URL (https://host/signal)')
  let url: URL
  try {
    url = new URL(raw, page)
  } catch {
    throw invalid('is not a URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(hasScheme && !raw.includes('//') ? `has no scheme: did you mean https://${raw}?` : `is not http(s): ${url.protocol}`)
  }
  return (url.origin + url.pathname).replace(/\/+$/, '')
}

/** `proxy_error`: an answer that is not sigpost's JSON (a proxy's HTML 403/407/502, a captive portal's page). */
export function notSigpost(method: string, path: string, response: Response): SignalError {
  const who = answeredBy(response)
  const type = response.headers.get('content-type')?.split(';')[0]
  return new SignalError(
    'proxy_error',
    `${method} ${path} was answered with HTTP ${response.status} by ${who ?? 'something other than sigpost'}${type ? ` (${type})` : ''}, not by sigpost: a proxy or a captive portal is in the way`,
    response.status,
    who,
  )
}

export interface RequestOptions {
  auth?: boolean
  token?: string
  keepalive?: boolean
  bearer?: string
  signal?: AbortSignal
}

/** The server's REST surface as SignalClient and its transports use it. */
export class Http {
  constructor(
    readonly server: string,
    readonly fetchImpl: typeof fetch,
    readonly requestTimeoutMs: number,
    /** The session token of the current registration, if any. */
    private readonly token: () => string | undefined,
  ) {}

  /**
   * One authenticated REST call. Resolves with the JSON body (undefined for 204); rejects with a
   * SignalError carrying the server's `error` code, or `network_error` when there was no response.
   */
  async request<T = unknown>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (options.auth !== false) {
      const token = options.token ?? this.token()
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
    // Anything else came from something on the way (docs/operations.md "Behind proxies"). An error
    // with no body at all may still be Node's own (e.g. a 408 written by the HTTP server itself): it is
    // someone else's only when it says so (Via, Server) or is a proxy's by definition (407).
    const foreign = !json || (!response.ok && typeof error?.error !== 'string' && (text !== '' || response.status === 407 || answeredBy(response) !== undefined))
    // A 404 for a route sigpost has, whether in sigpost's words (`not_found`: no such endpoint), another
    // framework's (Fastify's own `"error": "Not Found"`) or a page: nothing of sigpost's lives at this URL —
    // a wrong `server` path (e.g. the plugin's prefix missing).
    const sigpostCode = typeof error?.error === 'string' && /^[a-z_]+$/.test(error.error)
    if (response.status === 404 && (foreign || !sigpostCode || error?.error === 'not_found')) {
      throw new SignalError('wrong_server', `${method} ${path} answered 404 (${json ? text.slice(0, 200) : 'not sigpost\'s JSON'}): no sigpost server at ${this.server}; check the URL and its path prefix`, 404)
    }
    if (foreign) throw notSigpost(method, path, response)
    if (!response.ok) {
      const failure = new SignalError(
        typeof error?.error === 'string' ? error.error : `http_${response.status}`,
        typeof error?.message === 'string' ? error.message : `${method} ${path} answered ${response.status}`,
        response.status,
      )
      const retryAfter = Number(response.headers.get('retry-after'))
      if (Number.isFinite(retryAfter) && retryAfter > 0) failure.retryAfterS = Math.ceil(retryAfter)
      throw failure
    }
    return data as T
  }

  /** `promise`, or `network_error` with `message` once requestTimeoutMs has passed. */
  settleWithin<T>(promise: Promise<T>, message: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SignalError('network_error', message)), this.requestTimeoutMs)
    })
    return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
  }

  /**
   * A fresh single-use ticket for one EventSource open (`POST /v1/stream-tickets` with the Bearer
   * header): the session token stays out of URLs, where proxies and access logs keep it
   * (docs/http-api.md "Stream tickets"). A SignalError when the request failed or was aborted (a server
   * without tickets thus ends up on long-poll, which sends the token in a header).
   */
  async streamTicket(signal: AbortSignal): Promise<string | SignalError> {
    try {
      return (await this.request<{ ticket: string }>('POST', '/v1/stream-tickets', undefined, { signal })).ticket
    } catch (error) {
      return error instanceof SignalError ? error : new SignalError('network_error', String(error))
    }
  }

  /** Status of `GET /v1/sessions` with our token, 0 when the server is unreachable. */
  async sessionStatus(): Promise<number> {
    try {
      await this.request('GET', '/v1/sessions')
      return 200
    } catch (error) {
      // A proxy's own answer (its 401/407 page) says nothing about the session: as if unreachable.
      if ((error as SignalError).code === 'proxy_error') return 0
      return (error as SignalError).status ?? 0
    }
  }

  /** `path` on the server with the defined `params` as its query. */
  url(path: string, params: Record<string, string | undefined>): string {
    const url = new URL(this.server + path)
    for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value)
    return url.href
  }
}
