/**
 * One driver per target: how a client registers a name, opens its receiving stream, sends a signalling
 * message (offer, answer, ICE candidate) to a peer and sees what is relayed to it. The phases in
 * loadgen.ts only speak this interface, so every target runs exactly the same workload.
 */
import { randomBytes } from 'node:crypto'
import type http from 'node:http'
import { WebSocket } from 'ws'
import { io as ioClient, type Socket } from 'socket.io-client'
import { HttpClient, SseParser, openStream } from './http.js'

export type Kind = 'offer' | 'answer' | 'candidate'
export interface Msg {
  type: Kind | 'other'
  data: any
}

export interface Endpoint {
  readonly name: string
  /** Every signalling message relayed to this endpoint. */
  onMsg: (m: Msg) => void
  /** False once its stream/connection closed. */
  alive: boolean
  /** Sends to a peer; resolves when the target acknowledged it (HTTP 2xx, socket.io ack) or, for plain ws, when written. */
  send(to: Endpoint, type: Kind, body: any): Promise<void>
  close(): Promise<void>
}

export interface Driver {
  readonly id: string
  /** Registers the name and opens its receiving stream; resolves once messages can be received. */
  open(name: string): Promise<Endpoint>
  /** sigpost only: registration and stream as two steps (to split session vs stream memory). */
  register?(name: string): Promise<Endpoint & { attach(): Promise<void> }>
  close(): void
}

export const OFFER = { type: 'offer', sdp: 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n' }
export const ANSWER = { type: 'answer', sdp: OFFER.sdp.replace('4611731400430051336', '1234567890123456789') }
/** An ICE candidate as a browser trickles it; usernameFragment carries the sender's timestamp. */
export function candidate(stamp: string) {
  return { candidate: 'candidate:842163049 1 udp 1677729535 192.0.2.10 54321 typ srflx raddr 0.0.0.0 rport 0 generation 0 network-cost 999', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: stamp }
}

const noop = () => {}

// ---------------------------------------------------------------- sigpost (SSE or long-poll)

class SigpostEndpoint implements Endpoint {
  onMsg: (m: Msg) => void = noop
  alive = false
  callId?: string
  private token = ''
  private auth: Record<string, string> = {}
  private req?: http.ClientRequest
  private after?: string

  constructor(
    private readonly http: HttpClient,
    private readonly mode: 'sse' | 'poll',
    readonly name: string,
  ) {}

  async register(): Promise<void> {
    const r = await this.http.request('POST', '/v1/sessions', JSON.stringify({ name: this.name }))
    if (r.status !== 201) throw new Error(`register ${this.name}: ${r.status} ${r.body.slice(0, 200)}`)
    this.token = JSON.parse(r.body).token
    this.auth = { authorization: `Bearer ${this.token}` }
  }

  attach(): Promise<void> {
    this.alive = true
    if (this.mode === 'poll') {
      // The first poll (wait=0) is answered at once: the session is attached and known to be reachable.
      return this.poll(0).then(() => void this.pollLoop())
    }
    return new Promise<void>((resolve, reject) => {
      const parser = new SseParser((e) => {
        if (e.event === 'ready') resolve()
        else this.dispatch(e.event, e.data)
      })
      openStream(this.http.host, this.http.port, '/v1/events', this.auth, parser, () => (this.alive = false)).then((req) => (this.req = req), reject)
    })
  }

  private async poll(waitS: number): Promise<boolean> {
    const r = await this.http.request('GET', `/v1/poll?wait=${waitS}${this.after ? `&after=${this.after}` : ''}`, undefined, this.auth, (waitS + 15) * 1000)
    if (r.status !== 200) {
      this.alive = false
      if (r.status === 401) return false
      throw new Error(`poll ${this.name}: ${r.status} ${r.body.slice(0, 200)}`)
    }
    const body = JSON.parse(r.body) as { events: Array<{ id: string; event: string; data: unknown }>; replaced?: boolean }
    for (const e of body.events) {
      this.after = e.id
      this.dispatchParsed(e.event, e.data)
    }
    return !body.replaced
  }

  private async pollLoop(): Promise<void> {
    try {
      while (this.alive && (await this.poll(25)));
    } catch {
      // closed while polling
    }
    this.alive = false
  }

  private dispatch(event: string, data: string): void {
    this.dispatchParsed(event, JSON.parse(data))
  }

  private dispatchParsed(event: string, data: any): void {
    switch (event) {
      case 'incomingCall':
        this.callId = data.callId
        this.onMsg({ type: 'offer', data: data.sdpOffer })
        return
      case 'callResponse':
        this.onMsg({ type: 'answer', data: data.sdpAnswer })
        return
      case 'iceCandidate':
        this.onMsg({ type: 'candidate', data: data.candidate })
        return
      default:
        this.onMsg({ type: 'other', data })
    }
  }

  async send(to: Endpoint, type: Kind, body: any): Promise<void> {
    let r
    if (type === 'offer') {
      r = await this.http.request('POST', '/v1/calls', JSON.stringify({ to: to.name, sdpOffer: body }), this.auth)
      if (r.status === 201) this.callId = JSON.parse(r.body).callId
    } else if (type === 'answer') {
      r = await this.http.request('POST', `/v1/calls/${this.callId}/accept`, JSON.stringify({ sdpAnswer: body }), this.auth)
    } else {
      r = await this.http.request('POST', `/v1/calls/${this.callId}/candidates`, JSON.stringify({ candidate: body }), this.auth)
    }
    if (r.status >= 300) throw new Error(`${type} ${this.name}→${to.name}: ${r.status} ${r.body.slice(0, 200)}`)
  }

  async close(): Promise<void> {
    const wasAlive = this.alive
    this.alive = false
    // Ending the session ends its stream (and answers a waiting poll).
    if (this.token) await this.http.request('DELETE', '/v1/sessions/current', undefined, this.auth).catch(noop)
    if (wasAlive) this.req?.destroy()
  }
}

export class SigpostDriver implements Driver {
  readonly id: string
  private readonly http: HttpClient
  constructor(host: string, port: number, private readonly mode: 'sse' | 'poll') {
    this.id = `sigpost-${mode}`
    this.http = new HttpClient(host, port)
  }
  async register(name: string) {
    const e = new SigpostEndpoint(this.http, this.mode, name)
    await e.register()
    return e
  }
  async open(name: string): Promise<Endpoint> {
    const e = await this.register(name)
    await e.attach()
    return e
  }
  /** Prometheus heap figure, as sigpost itself reports it (no forced GC). */
  async metricsHeap(): Promise<number | undefined> {
    const r = await this.http.request('GET', '/metrics')
    const m = /^nodejs_heap_size_used_bytes (\S+)/m.exec(r.body)
    return m ? Number(m[1]) : undefined
  }
  close(): void {
    this.http.close()
  }
}

// ---------------------------------------------------------------- the floor: bare node:http

class FloorEndpoint implements Endpoint {
  onMsg: (m: Msg) => void = noop
  alive = false
  private req?: http.ClientRequest
  constructor(private readonly http: HttpClient, readonly name: string) {}

  open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const parser = new SseParser(
        (e) => {
          const m = JSON.parse(e.data)
          this.onMsg({ type: m.type, data: m.data })
        },
        (c) => c === ' ready' && resolve(),
      )
      this.alive = true
      openStream(this.http.host, this.http.port, `/events/${this.name}`, {}, parser, () => (this.alive = false)).then((req) => (this.req = req), reject)
    })
  }

  async send(to: Endpoint, type: Kind, body: any): Promise<void> {
    const r = await this.http.request('POST', `/send/${to.name}`, JSON.stringify({ type, from: this.name, data: body }))
    if (r.status !== 204) throw new Error(`floor send ${this.name}→${to.name}: ${r.status}`)
  }

  async close(): Promise<void> {
    this.alive = false
    this.req?.destroy()
  }
}

export class FloorDriver implements Driver {
  readonly id = 'floor'
  private readonly http: HttpClient
  constructor(host: string, port: number) {
    this.http = new HttpClient(host, port)
  }
  async open(name: string): Promise<Endpoint> {
    const e = new FloorEndpoint(this.http, name)
    await e.open()
    return e
  }
  close(): void {
    this.http.close()
  }
}

// ---------------------------------------------------------------- WebSocket relays: minimal ws relay, PeerJS

class WsEndpoint implements Endpoint {
  onMsg: (m: Msg) => void = noop
  alive = false
  private ws!: WebSocket
  private heartbeat?: NodeJS.Timeout

  constructor(
    readonly name: string,
    private readonly peerjs: boolean,
  ) {}

  open(url: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const ws = (this.ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 20_000 }))
      ws.on('open', () => {
        this.alive = true
        if (!this.peerjs) ws.send(JSON.stringify({ type: 'register', name: this.name }))
      })
      ws.on('error', reject)
      ws.on('close', () => {
        this.alive = false
        clearInterval(this.heartbeat)
        reject(new Error('closed before registered'))
      })
      ws.on('message', (raw) => {
        const m = JSON.parse(raw.toString())
        if (this.peerjs) {
          switch (m.type) {
            case 'OPEN':
              // PeerJS clients send a HEARTBEAT every 5 s; its server drops a client silent for 90 s.
              this.heartbeat = setInterval(() => ws.send('{"type":"HEARTBEAT"}'), 25_000)
              this.heartbeat.unref()
              resolve()
              return
            case 'OFFER':
            case 'ANSWER':
            case 'CANDIDATE':
              this.onMsg({ type: m.type.toLowerCase(), data: m.payload })
              return
            case 'ID-TAKEN':
            case 'ERROR':
              reject(new Error(`peerjs ${this.name}: ${m.type} ${JSON.stringify(m.payload)}`))
              return
            default:
              this.onMsg({ type: 'other', data: m })
          }
        } else if (m.type === 'registerResponse') {
          resolve()
        } else {
          this.onMsg({ type: m.type, data: m.data })
        }
      })
    })
  }

  send(to: Endpoint, type: Kind, body: any): Promise<void> {
    const text = this.peerjs
      ? JSON.stringify({ type: type.toUpperCase(), dst: to.name, payload: body })
      : JSON.stringify({ type, to: to.name, data: body })
    return new Promise((resolve, reject) => this.ws.send(text, (err) => (err ? reject(err) : resolve())))
  }

  async close(): Promise<void> {
    this.alive = false
    clearInterval(this.heartbeat)
    this.ws.terminate()
  }
}

export class WsDriver implements Driver {
  constructor(
    readonly id: 'ws' | 'peerjs',
    private readonly host: string,
    private readonly port: number,
  ) {}
  async open(name: string): Promise<Endpoint> {
    const peerjs = this.id === 'peerjs'
    const e = new WsEndpoint(name, peerjs)
    const url = peerjs
      ? `ws://${this.host}:${this.port}/peerjs?key=peerjs&id=${name}&token=${randomBytes(6).toString('hex')}`
      : `ws://${this.host}:${this.port}/`
    await e.open(url)
    return e
  }
  close(): void {}
}

// ---------------------------------------------------------------- socket.io, polling transport only

class SocketIoEndpoint implements Endpoint {
  onMsg: (m: Msg) => void = noop
  alive = false
  private socket!: Socket
  constructor(readonly name: string) {}

  open(url: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = (this.socket = ioClient(url, { transports: ['polling'], forceNew: true, reconnection: false, timeout: 20_000 }))
      socket.on('signal', (m: { type: Kind; data: unknown }) => this.onMsg({ type: m.type, data: m.data }))
      socket.on('connect_error', reject)
      socket.on('disconnect', () => (this.alive = false))
      socket.on('connect', () => {
        this.alive = true
        socket.timeout(20_000).emitWithAck('register', this.name).then(() => resolve(), reject)
      })
    })
  }

  async send(to: Endpoint, type: Kind, body: any): Promise<void> {
    await this.socket.timeout(20_000).emitWithAck('signal', { to: to.name, type, data: body })
  }

  async close(): Promise<void> {
    this.alive = false
    this.socket.disconnect()
  }
}

export class SocketIoDriver implements Driver {
  readonly id = 'socketio'
  constructor(private readonly host: string, private readonly port: number) {}
  async open(name: string): Promise<Endpoint> {
    const e = new SocketIoEndpoint(name)
    await e.open(`http://${this.host}:${this.port}`)
    return e
  }
  close(): void {}
}

export function makeDriver(target: string, host: string, port: number): Driver {
  switch (target) {
    case 'sigpost-sse':
    case 'sigpost-sse-logs':
    case 'sigpost-redis':
      return new SigpostDriver(host, port, 'sse')
    case 'sigpost-poll':
      return new SigpostDriver(host, port, 'poll')
    case 'floor':
    case 'fastify-floor':
      return new FloorDriver(host, port)
    case 'ws':
    case 'peerjs':
      return new WsDriver(target, host, port)
    case 'socketio':
      return new SocketIoDriver(host, port)
  }
  throw new Error(`unknown target ${target}`)
}
