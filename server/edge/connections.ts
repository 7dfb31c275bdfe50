/**
 * MAX_CONNECTIONS_PER_IP: one client address holds at most that many open connections, so one host
 * cannot spend the process's file descriptors (issue 11: ~20,600 slow connections from one address took
 * every descriptor in 28 s). Counted on the server's `connection` event (before any byte is parsed) and
 * released on the socket's `close`. Trusted proxies (TRUST_PROXY) are exempt: behind one, every user
 * shares its address.
 *
 * A refused connection is closed at once. On plain HTTP it first gets a minimal
 * `429 {"error":"rate_limited",...}` with `Connection: close`, so a client that reads sees why; over TLS
 * nothing can be written before a handshake, so it is only closed.
 */
import { Server as HttpServer } from 'node:http'
import type { Server as NetServer, Socket } from 'node:net'
import { Server as TlsServer } from 'node:tls'
import type { FastifyBaseLogger } from 'fastify'
import proxyAddr from '@fastify/proxy-addr'
import { addressKey } from './address.js'

/** At most one warning per client address per this long, however many connections it opens. */
const WARN_EVERY_MS = 60_000

const REFUSAL_BODY = JSON.stringify({ error: 'rate_limited', message: 'Too many open connections from your address; close some and retry.' })
const REFUSAL = `HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(REFUSAL_BODY)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n${REFUSAL_BODY}`


export class ConnectionLimiter {
  private readonly open = new Map<string, number>()
  /** Addresses warned about recently: when, and how many connections were refused since. */
  private readonly warned = new Map<string, { at: number; refused: number }>()
  private readonly trusted: (address: string) => boolean

  constructor(
    private readonly limit: number,
    trustProxy: string[],
    private readonly log: FastifyBaseLogger,
  ) {
    const trust = trustProxy.length > 0 ? proxyAddr.compile(trustProxy) : undefined
    this.trusted = trust ? (address) => trust(address, 0) : () => false
  }

  /** Counts every connection of `server`; runs before the HTTP parser sees it. */
  attach(server: NetServer): void {
    if (this.limit <= 0) return
    const plainHttp = server instanceof HttpServer && !(server instanceof TlsServer)
    server.prependListener('connection', (socket: Socket) => this.admit(socket, plainHttp))
  }

  /** Open connections of one address (for tests and metrics). */
  count(address: string): number {
    return this.open.get(addressKey(address)) ?? 0
  }

  private admit(socket: Socket, plainHttp: boolean): void {
    if (!socket.remoteAddress) return
    const key = addressKey(socket.remoteAddress)
    const count = this.open.get(key) ?? 0
    if (count >= this.limit && !this.trusted(socket.remoteAddress)) {
      this.refuse(socket, key, plainHttp)
      return
    }
    this.open.set(key, count + 1)
    socket.once('close', () => {
      const left = (this.open.get(key) ?? 1) - 1
      if (left <= 0) this.open.delete(key)
      else this.open.set(key, left)
    })
  }

  private refuse(socket: Socket, key: string, plainHttp: boolean): void {
    this.warn(key)
    // The response is written before the HTTP parser reads anything; the socket is destroyed once it is
    // flushed (end() alone would leave the descriptor open for as long as the client keeps its side).
    socket.on('error', () => {})
    if (plainHttp) socket.end(REFUSAL, () => socket.destroy())
    else socket.destroy()
  }

  private warn(key: string): void {
    const now = Date.now()
    const last = this.warned.get(key)
    if (last && now - last.at < WARN_EVERY_MS) {
      last.refused++
      return
    }
    for (const [address, entry] of this.warned) if (now - entry.at >= WARN_EVERY_MS) this.warned.delete(address)
    this.log.warn({ remoteAddress: key, limit: this.limit, refusedSinceLastWarning: last?.refused ?? 0 }, 'client address at MAX_CONNECTIONS_PER_IP: refusing its new connections')
    this.warned.set(key, { at: now, refused: 1 })
  }
}

/**
 * While the server closes, closes keep-alive connections as they turn idle. Node's `server.close()` (and
 * Fastify's `forceCloseConnections: 'idle'`) closes the connections idle at that moment; one whose request
 * was in flight — a long-poll that the shutdown answers, a send — turns idle a moment later and would then
 * hold `close()` for the whole keep-alive time-out (KEEP_ALIVE_TIMEOUT_MS, 75 s): a restart that waits
 * that long for nothing. Registered on preClose; the timer is unref'd and stops with the server's `close`.
 */
export function closeIdleWhileClosing(server: NetServer): void {
  const http = server as Partial<Pick<HttpServer, 'closeIdleConnections'>>
  if (typeof http.closeIdleConnections !== 'function') return
  const timer = setInterval(() => http.closeIdleConnections?.(), 50).unref()
  server.once('close', () => clearInterval(timer))
}
