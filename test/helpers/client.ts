/** A test client over real HTTP: JSON requests, a streaming SSE reader and long-poll, as a browser or curl would. */
import http from 'node:http'
import { Ajv } from 'ajv'
import { EVENTS } from '../../protocol/index.js'
import { WAIT_MS } from './wait.js'

const ajv = new Ajv({ strict: false })
const validators = new Map(Object.entries(EVENTS).map(([type, schema]) => [type, ajv.compile(schema)]))

/**
 * Every event a test receives has the shape protocol/ gives its name: the server's own check that the
 * schemas it documents are the events it sends (the Redis store's scripts build a few of them in Lua).
 */
export function checkEvent(event: { id?: string; event: string; data: unknown }): void {
  const validate = validators.get(event.event)
  if (!validate) throw new Error(`an event protocol/ does not name: ${event.event}`)
  if (!validate(event.id === undefined ? { event: event.event, data: event.data } : event)) {
    throw new Error(`${event.event} does not match protocol/: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(event)}`)
  }
}

/** Each server's OpenAPI description (`/docs/json`), fetched once; undefined when it serves none. */
const described = new Map<string, Promise<Route[] | undefined>>()
interface Route { method: string; pattern: RegExp; path: string; codes: Map<number, string[]> }

async function routesOf(url: string): Promise<Route[] | undefined> {
  let routes = described.get(url)
  if (!routes) {
    routes = fetch(`${url}/docs/json`).then(async (res) => {
      if (!res.ok) return undefined
      const doc = (await res.json()) as { paths: Record<string, Record<string, { responses?: Record<string, any> }>> }
      return Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({
        method: method.toUpperCase(),
        path,
        pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
        codes: new Map(Object.entries(operation.responses ?? {}).map(([status, response]) =>
          [Number(status), response?.content?.['application/json']?.schema?.properties?.error?.enum ?? []])),
      })))
    }, () => undefined)
    described.set(url, routes)
  }
  return routes
}

/**
 * Every error a test receives is one its route documents at that status (`/docs/json`'s enums): the whole
 * suite checks that the per-route error lists are the codes the server really answers.
 */
async function checkError(url: string, method: string, path: string, status: number, body: unknown): Promise<void> {
  const code = (body as { error?: unknown } | undefined)?.error
  if (status < 400 || typeof code !== 'string' || code === 'not_found') return
  const routes = await routesOf(url)
  const pathname = new URL(path, 'http://x').pathname
  const route = routes?.find((r) => r.method === (method === 'HEAD' ? 'GET' : method) && r.pattern.test(pathname))
  if (!route) return
  const codes = route.codes.get(status) ?? []
  if (!codes.includes(code)) {
    throw new Error(`${method} ${route.path} answered ${status} ${code}, which /docs/json does not list for it (${status}: ${codes.join(', ') || 'none'})`)
  }
}

export interface Res<T = any> {
  status: number
  body: T
  headers: Headers
}

export async function request<T = any>(url: string, method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<Res<T>> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token) headers.authorization = `Bearer ${options.token}`
  let body: string | undefined = options.raw
  if (options.body !== undefined) {
    body = JSON.stringify(options.body)
    headers['content-type'] ??= 'application/json'
  }
  const res = await fetch(url + path, { method, headers, body })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {}
  await checkError(url, method, path, res.status, parsed)
  return { status: res.status, body: parsed as T, headers: res.headers }
}

export interface Peer {
  name: string
  token: string
  post<T = any>(path: string, body?: unknown): Promise<Res<T>>
  get<T = any>(path: string): Promise<Res<T>>
  /** DELETE, with a JSON body when one is given (`DELETE /v1/calls/:callId {"reason": "failed"}`). */
  del<T = any>(path: string, body?: unknown): Promise<Res<T>>
}

export async function register(url: string, name: string): Promise<Peer> {
  const res = await request(url, 'POST', '/v1/sessions', { body: { name } })
  if (res.status !== 201) throw new Error(`register ${name}: ${res.status} ${JSON.stringify(res.body)}`)
  return peer(url, name, res.body.token)
}

export function peer(url: string, name: string, token: string): Peer {
  return {
    name,
    token,
    post: (path, body) => request(url, 'POST', path, { token, body: body ?? {} }),
    get: (path) => request(url, 'GET', path, { token }),
    del: (path, body) => request(url, 'DELETE', path, { token, body }),
  }
}

export interface SseEvent {
  id?: string
  event: string
  data: any
}

/**
 * Reads /v1/events over a real socket and parses the stream as EventSource would. `next()` resolves with
 * the next event (not comments, not heartbeats: those go to `heartbeats`, see nextHeartbeat());
 * `comments` counts comment lines; `ended` resolves when the server ends it.
 */
export class SseClient {
  readonly events: SseEvent[] = []
  /** `event: heartbeat`s, with the time each arrived (Date.now()). */
  readonly heartbeats: Array<SseEvent & { at: number }> = []
  comments: string[] = []
  retry?: number
  status = 0
  headers: http.IncomingHttpHeaders = {}
  readonly ended: Promise<void>
  private waiters: Array<() => void> = []
  private read = 0
  private req!: http.ClientRequest
  private buffer = ''
  private current: { id?: string; event?: string; data: string[] } = { data: [] }
  private commentWaiters: Array<() => void> = []
  private endResolve!: () => void
  readonly opened: Promise<void>

  constructor(url: string, options: { token?: string; query?: string; lastEventId?: string; headers?: Record<string, string> } = {}) {
    this.ended = new Promise((resolve) => (this.endResolve = resolve))
    const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers }
    if (options.token) headers.authorization = `Bearer ${options.token}`
    if (options.lastEventId) headers['last-event-id'] = options.lastEventId
    this.opened = new Promise((resolve, reject) => {
      this.req = http.get(`${url}/v1/events${options.query ? `?${options.query}` : ''}`, { headers }, (res) => {
        this.response = res
        this.status = res.statusCode ?? 0
        this.headers = res.headers
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => this.feed(chunk))
        res.on('end', () => this.finish())
        res.on('close', () => this.finish())
        resolve()
      })
      this.req.on('error', (error) => {
        this.finish()
        reject(error)
      })
    })
  }

  /** The body of a non-200 answer (an error in the contract's shape). */
  async errorBody(): Promise<any> {
    await this.ended
    return JSON.parse(this.buffer)
  }

  /** The first event that did not match protocol/'s schema of it (next() then rejects with it). */
  private mismatch?: Error

  async next(): Promise<SseEvent> {
    if (this.mismatch) throw this.mismatch
    const deadline = Date.now() + WAIT_MS
    while (this.read >= this.events.length) {
      await this.wake(deadline, () => `the next event (${this.read} read: ${this.events.slice(-3).map((e) => e.event).join(', ') || 'none'})`)
      if (this.mismatch) throw this.mismatch
      if (this.read >= this.events.length && this.done) throw new Error('stream ended before the next event')
    }
    return this.events[this.read++]
  }

  /** Resolves at the stream's next change; rejects with what was awaited once `deadline` has passed. */
  private async wake(deadline: number, what: () => string): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    let late = false
    await new Promise<void>((resolve) => {
      this.waiters.push(resolve)
      this.commentWaiters.push(resolve)
      timer = setTimeout(() => { late = true; resolve() }, Math.max(0, deadline - Date.now()))
    })
    clearTimeout(timer)
    if (late) throw new Error(`gave up after ${WAIT_MS} ms waiting for ${what()} on the stream`)
  }

  /** Reads events until one of `type` arrives; returns it (others stay in `events`). */
  async nextOf(type: string): Promise<SseEvent> {
    for (;;) {
      const e = await this.next()
      if (e.event === type) return e
    }
  }

  /** Resolves with the next heartbeat that arrives (or the n-th one, counted from the stream's start). */
  async nextHeartbeat(n = this.heartbeats.length): Promise<SseEvent & { at: number }> {
    const deadline = Date.now() + WAIT_MS
    while (this.heartbeats.length <= n) {
      await this.wake(deadline, () => `heartbeat ${n + 1}`)
      if (this.heartbeats.length <= n && this.done) throw new Error('stream ended before the next heartbeat')
    }
    return this.heartbeats[n]
  }

  async nextComment(): Promise<string> {
    const count = this.comments.length
    const deadline = Date.now() + WAIT_MS
    while (this.comments.length === count) await this.wake(deadline, () => 'a comment')
    return this.comments[count]
  }

  close(): void {
    this.req.destroy()
  }

  /** Stops reading the socket (a hung client), and reads on again. */
  pause(): void {
    this.response?.pause()
  }

  resume(): void {
    this.response?.resume()
  }

  private response?: http.IncomingMessage

  private done = false

  private finish(): void {
    if (this.done) return
    this.done = true
    this.endResolve()
    this.flushWaiters()
  }

  private flushWaiters(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
    const cw = this.commentWaiters
    this.commentWaiters = []
    for (const w of cw) w()
  }

  private feed(chunk: string): void {
    if (this.status !== 200) {
      this.buffer += chunk
      return
    }
    this.buffer += chunk
    let index: number
    while ((index = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, index).replace(/\r$/, '')
      this.buffer = this.buffer.slice(index + 1)
      this.line(line)
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.current.data.length > 0 || this.current.event) {
        const data = this.current.data.join('\n')
        const event = { id: this.current.id, event: this.current.event ?? 'message', data: data ? JSON.parse(data) : undefined }
        try {
          checkEvent(event)
        } catch (error) {
          this.mismatch ??= error as Error
        }
        if (event.event === 'heartbeat') this.heartbeats.push({ ...event, at: Date.now() })
        else this.events.push(event)
        this.flushWaiters()
      }
      this.current = { data: [] }
      return
    }
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trim())
      this.flushWaiters()
      return
    }
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'id') this.current.id = value
    else if (field === 'event') this.current.event = value
    else if (field === 'data') this.current.data.push(value)
    else if (field === 'retry') this.retry = Number(value)
  }
}

/** Opens a stream and waits for its `ready` event. */
export async function openStream(url: string, p: Peer, options: { lastEventId?: string } = {}): Promise<SseClient> {
  const stream = new SseClient(url, { token: p.token, ...options })
  await stream.opened
  const ready = await stream.next()
  if (ready.event !== 'ready') throw new Error(`expected ready, got ${ready.event}`)
  return stream
}

export interface PollEvent {
  id: string
  event: string
  data: any
}

export async function poll(p: Peer, query: string): Promise<Res<{ events: PollEvent[]; replaced?: boolean; error?: string }>> {
  const res = await p.get(`/v1/poll?${query}`)
  if (res.status === 200) for (const event of res.body.events) checkEvent(event)
  return res
}

export const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' }
export const answer = { type: 'answer', sdp: 'v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' }
export const candidate = (n: number) => ({ candidate: `candidate:${n} 1 udp 2122260223 127.0.0.1 ${50000 + n} typ host`, sdpMid: '0', sdpMLineIndex: 0 })

/** Sends candidate(n) from `from` in the call. */
export function trickle(from: Peer, callId: string, n: number): Promise<Res> {
  return from.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(n) })
}

/** `from` calls `to` and trickles candidate(0..count-1): 1 + count events for the callee. Returns the call id. */
export async function callAndTrickle(from: Peer, to: string, count: number): Promise<string> {
  const res = await from.post('/v1/calls', { to, sdpOffer: offer })
  if (res.status !== 201) throw new Error(`call: ${res.status} ${JSON.stringify(res.body)}`)
  for (let n = 0; n < count; n++) await trickle(from, res.body.callId, n)
  return res.body.callId
}
