/**
 * The two receiving transports over one cursor and one envelope: an SSE stream (written to the socket,
 * events framed by fastify-sse-v2's serializer) and a long-poll responder. Both attach to the store as the
 * session's one live stream; a newer one replaces an older one. A probe stream (`?probe=1`) is an SSE
 * stream with no attachment: `ready` and heartbeats only. Heartbeats are `event: heartbeat` (EventSource
 * shows them, so a client can tell a silent stream from a live one), sent by shared timers instead of a
 * timer per stream: one queue for each stream's first heartbeat 1 s after `ready`, one interval for all.
 */
import { validateHeaderName, validateHeaderValue, type ServerResponse } from 'node:http'
import type { Http2ServerResponse, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import { Socket } from 'node:net'
import type { FastifyBaseLogger, FastifyReply } from 'fastify'
import { serializeSSEEvent } from 'fastify-sse-v2/lib/sse.js'
import type { EventData, StreamEventType } from '../../protocol/index.js'
import type { Metrics } from '../metrics.js'
import type { Attachment, StoredEvent, StreamListener } from '../store/types.js'

/** Wakes one waiting reader; a wake that comes while it is busy is remembered, never lost. */
class Signal {
  private pending = false
  private resolve?: () => void
  fire(): void {
    this.pending = true
    this.resolve?.()
  }
  /** Resolves at once if fired since the last wait. */
  wait(): Promise<void> {
    if (this.pending) {
      this.pending = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      this.resolve = () => {
        this.pending = false
        this.resolve = undefined
        resolve()
      }
    })
  }
}

interface Closable {
  close(why: 'replaced' | 'ended' | 'shutdown' | 'disconnected' | 'slow'): void
  /** Once responding: settles when the response is finished or its connection closed (shutdown waits). */
  readonly finished: Promise<void> | undefined
  /** Cuts the connection (a client that does not read cannot hold the shutdown up). */
  destroy(): void
}

/** How long shutdown waits for ended responses to flush before it cuts their sockets. */
const SHUTDOWN_FLUSH_MS = 2000
/** A stream's first heartbeat comes this long after its `ready` (API.md), whatever heartbeatMs is. */
export const FIRST_HEARTBEAT_MS = 1000
/**
 * A probe stream ends once it is this old (at the next heartbeat after it): its client decides within 3 s,
 * and a probe must outlive that by far, or a buffering proxy would flush it in time and pass it as streaming.
 */
const PROBE_LIFETIME_MS = 30_000

/** Every open receiver of one app: heartbeats, and closing them all on shutdown. */
export class ReceiverHub {
  private readonly open = new Set<Closable>()
  private readonly sse = new Set<SseReceiver>()
  private readonly timer: NodeJS.Timeout
  /** Streams waiting for their first heartbeat, oldest first (all wait the same time: a FIFO). */
  private readonly fresh: Array<{ stream: SseReceiver; due: number }> = []
  private freshTimer: NodeJS.Timeout | undefined
  private closing = false
  /** Whether each stream's end is logged (LOG_REQUESTS=all only: one line per stream is one per request). */
  logStreams = false

  constructor(
    heartbeatMs: number,
    readonly metrics: Metrics,
    readonly log: FastifyBaseLogger,
  ) {
    this.timer = setInterval(() => {
      for (const stream of this.sse) stream.heartbeat()
    }, heartbeatMs).unref()
  }

  /** The stream's first heartbeat, FIRST_HEARTBEAT_MS after its `ready`, from one timer for all streams. */
  firstHeartbeat(stream: SseReceiver): void {
    this.fresh.push({ stream, due: Date.now() + FIRST_HEARTBEAT_MS })
    if (!this.freshTimer) this.armFresh()
  }

  private armFresh(): void {
    const head = this.fresh[0]
    this.freshTimer = head && !this.closing
      ? setTimeout(() => {
          const now = Date.now()
          while (this.fresh.length > 0 && this.fresh[0].due <= now) {
            const { stream } = this.fresh.shift()!
            if (this.sse.has(stream)) stream.heartbeat()
          }
          this.armFresh()
        }, Math.max(0, head.due - Date.now())).unref()
      : undefined
  }

  add(receiver: Closable): void {
    // A request that was still being authenticated when the shutdown began gets a closed receiver.
    if (this.closing) {
      receiver.close('shutdown')
      return
    }
    this.open.add(receiver)
    if (receiver instanceof SseReceiver) this.sse.add(receiver)
  }

  remove(receiver: Closable): void {
    this.open.delete(receiver)
    if (receiver instanceof SseReceiver) this.sse.delete(receiver)
  }

  /**
   * Ends every stream and answers every waiting poll, then waits until those responses are finished, so
   * that the server's close finds their connections idle and closes them: app.close() returns promptly.
   */
  async shutdown(): Promise<void> {
    this.closing = true
    clearInterval(this.timer)
    clearTimeout(this.freshTimer)
    this.fresh.length = 0
    const receivers = [...this.open]
    for (const receiver of receivers) receiver.close('shutdown')
    // Read after closing: a receiver that was still setting up has no response, and nothing to wait for.
    const finished = receivers.map((receiver) => receiver.finished)
    let timer: NodeJS.Timeout | undefined
    const cutOff = new Promise((resolve) => (timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS).unref()))
    const done = await Promise.race([Promise.all(finished).then(() => true), cutOff.then(() => false)])
    clearTimeout(timer)
    // A client that does not read its stream cannot hold the shutdown up.
    if (!done) for (const receiver of receivers) receiver.destroy()
  }
}

type Why = 'replaced' | 'ended' | 'shutdown' | 'disconnected' | 'slow'

export class SseReceiver implements StreamListener, Closable {
  private readonly signal = new Signal()
  private closed?: Why
  private heartbeatDue = false
  private stalledBeats = 0
  private attachment?: Attachment
  private out?: StreamOut
  private readonly opened = Date.now()

  /** `probe`: no attachment to the session (no events, replaces nothing), ends after PROBE_LIFETIME_MS. */
  constructor(
    private readonly hub: ReceiverHub,
    private readonly name: string,
    private readonly requestId: string,
    /** Bytes that may wait unread in the connection before it is closed (the client is not reading). */
    private readonly maxUnreadBytes: number,
    private readonly probe = false,
  ) {
    hub.add(this)
  }

  wake(): void {
    this.signal.fire()
  }

  heartbeat(): void {
    if (this.probe && Date.now() - this.opened >= PROBE_LIFETIME_MS) {
      this.close('ended')
      return
    }
    this.attachment?.touch()
    // A socket that has taken nothing since the last heartbeat, twice running, is not being read.
    this.stalledBeats = this.out?.needDrain ? this.stalledBeats + 1 : 0
    if (this.stalledBeats >= 2) this.close('slow')
    this.heartbeatDue = true
    this.signal.fire()
  }

  close(why: Why): void {
    this.closed ??= why
    this.hub.remove(this)
    this.signal.fire()
  }

  /**
   * Writes the stream straight to the connection's socket (see SocketOut). fastify-sse-v2's `reply.sse()`
   * builds two pipelines per stream (an it-pushable and the given iterable, each through it-to-stream):
   * about 24 KiB of heap per idle stream and several promise hops per event (`npm run bench -- --heap`).
   * Its serializer still frames every event. Bounded memory: see pump().
   */
  start(reply: FastifyReply, attachment: Attachment | undefined, retryMs: number): void {
    this.attachment = attachment
    reply.hijack()
    // The client may have gone while the session was looked up: let go of the stream at once.
    if (reply.raw.destroyed || reply.raw.socket?.destroyed) {
      this.ended()
      return
    }
    const headers = {
      // Headers set by hooks (CORS) go out with the stream's own.
      ...reply.getHeaders(),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      // A hijacked reply skips onSend: the API's nosniff (edge/headers.ts) is written here.
      'x-content-type-options': 'nosniff',
    }
    const out = streamOut(reply, headers)
    this.out = out
    out.onClose(() => this.ended())
    out.onDrain(() => {
      this.stalledBeats = 0
      this.signal.fire()
    })
    out.write(`retry: ${retryMs}\n\n${streamEvent('ready', { name: this.name })}`)
    this.hub.firstHeartbeat(this)
    void this.pump(out, attachment)
  }

  get finished(): Promise<void> | undefined {
    return this.out?.finished
  }

  destroy(): void {
    this.out?.destroy()
  }

  /** The connection is gone: the session's stream is free for the next one, and the end is logged. */
  private ended(): void {
    this.close('disconnected')
    this.attachment?.detach()
    if (this.hub.logStreams) this.hub.log.info({ reqId: this.requestId, name: this.name, seconds: Math.round((Date.now() - this.opened) / 1000), why: this.closed }, 'event stream closed')
  }

  /**
   * Writes what the store holds, a batch (READ_BATCH_BYTES) at a time, with bounded memory:
   * - until the stream has caught up (the replay after a resume, a backlog), it waits whenever the socket
   *   has not taken the last write: a replay goes out no faster than the client reads;
   * - once caught up, live events are written on even when the socket is behind, but a connection with
   *   more than maxUnreadBytes waiting in it is not being read: it is closed;
   * - a socket that takes nothing for two heartbeats while sigpost waits to write is closed as well
   *   (heartbeat()).
   * A closed stream's unwritten events stay undelivered; written ones stay in the replay window, so the
   * next resume gets them.
   */
  private async pump(out: StreamOut, attachment: Attachment | undefined): Promise<void> {
    let caughtUp = false
    while (!this.closed) {
      if (caughtUp && out.unread > this.maxUnreadBytes) {
        this.closed = 'slow'
        break
      }
      if (out.needDrain && !caughtUp) {
        await this.signal.wait()
        continue
      }
      let batch: StoredEvent[]
      try {
        batch = attachment ? await attachment.read() : []
      } catch {
        // The store is unreachable: keep the stream (and its heartbeats) and read again on the next wake;
        // the store wakes every stream when it is back, so a blip costs latency, never an event.
        await this.signal.wait()
        continue
      }
      if (this.closed) break
      if (batch.length > 0) {
        let chunk = ''
        for (const e of batch) chunk += serializeSSEEvent({ id: e.id, event: e.event, data: e.json })
        // Busy or idle: a due heartbeat rides along with the batch.
        if (this.heartbeatDue) chunk += HEARTBEAT
        this.heartbeatDue = false
        // Handed to the socket: written. A socket that can no longer take it is a client gone.
        if (!out.write(chunk)) break
        attachment!.sent(batch[batch.length - 1].id)
        this.hub.metrics.countDelivered('sse', batch)
      } else if (this.heartbeatDue) {
        caughtUp = true
        this.heartbeatDue = false
        // A socket that is behind gets no heartbeat on top; it is watched by heartbeat() instead.
        if (!out.needDrain && !out.write(HEARTBEAT)) break
      } else {
        caughtUp = true
        await this.signal.wait()
      }
    }
    if (this.closed === 'slow') {
      this.hub.log.warn({ reqId: this.requestId, name: this.name, unreadBytes: out.unread }, 'event stream closed: its client does not read')
      out.destroy()
      return
    }
    // Tells the client not to reconnect this stream: a newer one of the same session took over. The
    // connection is closed at once: a replaced stream that is not read holds nothing.
    out.end(this.closed === 'replaced' ? streamEvent('replaced', {}) : undefined, this.closed === 'replaced')
  }
}

/** One of the stream's own events (no id), its data as protocol/ types it. */
function streamEvent<K extends StreamEventType>(event: K, data: EventData<K>): string {
  return serializeSSEEvent({ event, data: JSON.stringify(data) })
}

/** No id (a heartbeat is not an event of the session, and must not move the client's cursor). */
const HEARTBEAT = 'event: heartbeat\ndata: {}\n\n'

/** A response's headers as Fastify's reply holds them. */
type Headers = Record<string, string | number | string[] | undefined>

/** Where an SSE stream's bytes go: the socket itself, or (with no real connection) the response object. */
interface StreamOut {
  /** False when the connection can no longer take it (the client is gone). */
  write(text: string): boolean
  /**
   * Writes the last text, if any, ends the stream and lets go of the connection; with `now`, a
   * connection that still has unread bytes waiting is cut instead of flushed.
   */
  end(text?: string, now?: boolean): void
  destroy(): void
  /** Bytes written but still waiting in the process for the connection to take them. */
  readonly unread: number
  /** The connection has not taken the last write yet. */
  readonly needDrain: boolean
  onDrain(listener: () => void): void
  onClose(listener: () => void): void
  /** Settles once the stream's last bytes are written out, or its connection is gone. */
  readonly finished: Promise<void>
}

function streamOut(reply: FastifyReply, headers: Headers): StreamOut {
  const raw = reply.raw as ServerResponse | Http2ServerResponse
  // HTTP/2: the response's own stream. HTTP/1.x on a real connection (TLS included: a TLSSocket is a
  // Socket): the socket. app.inject() (a fake socket) goes through the response object.
  if ('stream' in raw && raw.stream) return new Http2Out(raw.stream, headers)
  const socket = reply.raw.socket
  return socket instanceof Socket && reply.request.raw.httpVersionMajor === 1 ? new SocketOut(reply, socket, headers) : new ResponseOut(reply.raw, headers)
}

/** Headers that frame the body or the connection: SocketOut sets them itself. */
const FRAMING = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive', 'date'])

/**
 * The response head and body written to the socket by sigpost itself, with its own chunked framing: one
 * string and one write per batch of events, and none of Node's per-response state kept alive for the
 * hours a stream stays open (the head is not kept as a string, nothing is buffered in the response).
 * Node's HTTP server still owns the connection and sees it close. The connection is closed when the
 * stream ends (the response head says so), as HTTP/1.0 requires anyway for a body without a length.
 */
class SocketOut implements StreamOut {
  private readonly chunked: boolean
  readonly finished: Promise<void>

  constructor(
    reply: FastifyReply,
    private readonly socket: Socket,
    headers: Headers,
  ) {
    this.chunked = reply.request.raw.httpVersionMinor !== 0
    let head = 'HTTP/1.1 200 OK\r\n'
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || FRAMING.has(name.toLowerCase())) continue
      for (const v of Array.isArray(value) ? value : [String(value)]) {
        // What Node's own writeHead would refuse is left out (nothing of the client's reaches these).
        try {
          validateHeaderName(name)
          validateHeaderValue(name, v)
        } catch {
          continue
        }
        head += `${name}: ${v}\r\n`
      }
    }
    head += `date: ${new Date().toUTCString()}\r\nconnection: close\r\n`
    if (this.chunked) head += 'transfer-encoding: chunked\r\n'
    socket.write(`${head}\r\n`)
    this.finished = new Promise((resolve) => {
      socket.once('close', () => resolve())
      socket.once('finish', () => resolve())
    })
    // The response object never finishes (the socket carries the stream), so Fastify's listeners for its
    // end would only keep its request, reply and child logger alive for as long as the stream is open.
    for (const event of ['finish', 'error'] as const) {
      for (const listener of reply.raw.listeners(event)) if (listener.name === 'onResFinished') reply.raw.removeListener(event, listener as () => void)
    }
  }

  write(text: string): boolean {
    if (!this.socket.writable) return false
    this.socket.write(this.frame(text))
    return true
  }

  end(text?: string, now = false): void {
    if (!this.socket.writable) return
    // Judged before the last text: a client that has not read what it was sent is cut at once, while one
    // that reads gets its `replaced` (the last write itself may still count as waiting when it is made).
    if (now && this.socket.writableLength > 0) {
      this.socket.destroy()
      return
    }
    const last = text ? this.frame(text) : ''
    this.socket.write(this.chunked ? `${last}0\r\n\r\n` : last)
    // Sends what is left, then closes: a client that vanished cannot keep the connection (and a
    // shutdown) waiting for its side of the close.
    this.socket.destroySoon()
  }

  private frame(text: string): string {
    return this.chunked ? `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n` : text
  }

  destroy(): void {
    this.socket.destroy()
  }

  get unread(): number {
    return this.socket.writableLength
  }

  get needDrain(): boolean {
    return this.socket.writableNeedDrain
  }

  onDrain(listener: () => void): void {
    this.socket.on('drain', listener)
  }

  onClose(listener: () => void): void {
    this.socket.once('close', listener)
  }
}

/** The same through Node's response object, for a request with no real connection (app.inject()). */
class ResponseOut implements StreamOut {
  readonly finished: Promise<void>

  constructor(
    private readonly res: ServerResponse,
    headers: Headers,
  ) {
    res.writeHead(200, headers)
    this.finished = new Promise((resolve) => {
      res.once('finish', resolve)
      res.once('close', resolve)
    })
  }

  write(text: string): boolean {
    if (!this.res.writable) return false
    this.res.write(text)
    return true
  }

  end(text?: string, now = false): void {
    if (!this.res.writable) return
    if (now && this.res.writableLength > 0) {
      this.res.destroy()
      return
    }
    this.res.end(text)
  }

  destroy(): void {
    this.res.destroy()
  }

  get unread(): number {
    return this.res.writableLength
  }

  get needDrain(): boolean {
    return this.res.writableNeedDrain
  }

  onDrain(listener: () => void): void {
    this.res.on('drain', listener)
  }

  onClose(listener: () => void): void {
    this.res.once('close', listener)
  }
}

/** Headers that HTTP/2 forbids (connection-specific, RFC 9113 §8.2.2) or that frame an HTTP/1 body. */
const NOT_IN_HTTP2 = new Set([...FRAMING, 'upgrade', 'proxy-connection', 'te'])

/**
 * The stream's bytes as DATA frames of its HTTP/2 stream: the stream is the flow-controlled unit (one
 * slow tab does not hold up the others on the same connection), and ending it ends only this response,
 * never the connection that the page's other requests share.
 */
class Http2Out implements StreamOut {
  readonly finished: Promise<void>

  constructor(
    private readonly stream: ServerHttp2Stream,
    headers: Headers,
  ) {
    const head: OutgoingHttpHeaders = { ':status': 200 }
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined && !NOT_IN_HTTP2.has(name.toLowerCase())) head[name.toLowerCase()] = value
    }
    stream.respond(head)
    this.finished = new Promise((resolve) => {
      stream.once('close', () => resolve())
      stream.once('finish', () => resolve())
    })
  }

  write(text: string): boolean {
    if (this.stream.destroyed || !this.stream.writable) return false
    this.stream.write(text)
    return true
  }

  end(text?: string, now = false): void {
    if (this.stream.destroyed || !this.stream.writable) return
    // Judged before the last text: an HTTP/2 stream's writes leave through its session a moment later,
    // so the last text itself always waits, and cutting then would lose the `replaced` a reading client
    // needs. Earlier bytes still waiting: the client does not read; cut this stream only (RST_STREAM),
    // never the connection that the page's other requests share.
    if (now && this.stream.writableLength > 0) {
      this.stream.destroy()
      return
    }
    this.stream.end(text)
  }

  destroy(): void {
    this.stream.destroy()
  }

  get unread(): number {
    return this.stream.writableLength
  }

  get needDrain(): boolean {
    return this.stream.writableNeedDrain
  }

  onDrain(listener: () => void): void {
    this.stream.on('drain', listener)
  }

  onClose(listener: () => void): void {
    this.stream.once('close', listener)
  }
}

export class PollReceiver implements StreamListener, Closable {
  private readonly signal = new Signal()
  closed?: Why
  private response?: ServerResponse
  finished: Promise<void> | undefined

  constructor(private readonly hub: ReceiverHub) {
    hub.add(this)
  }

  wake(): void {
    this.signal.fire()
  }

  close(why: Why): void {
    this.closed ??= why
    this.hub.remove(this)
    this.signal.fire()
  }

  destroy(): void {
    if (this.response && !this.response.writableFinished) this.response.destroy()
  }

  /**
   * Everything after the cursor, at once if there is any; otherwise waits up to `waitMs` for the first
   * event. Returns the response body as a string: each event's data was serialised once when stored.
   */
  async respond(reply: FastifyReply, attachment: Attachment, waitMs: number): Promise<string> {
    const res = reply.raw
    this.response = res
    this.finished = new Promise((resolve) => {
      res.once('finish', resolve)
      res.once('close', resolve)
    })
    res.on('close', () => this.close('disconnected'))
    const timer = setTimeout(() => this.signal.fire(), waitMs).unref()
    try {
      let events = await attachment.read()
      if (events.length === 0 && waitMs > 0 && !this.closed) {
        await this.signal.wait()
        // Candidates come in bursts: gather what the same tick stored into one answer.
        await new Promise((resolve) => setImmediate(resolve))
        events = this.closed ? [] : await attachment.read()
      }
      if (events.length > 0) {
        attachment.sent(events[events.length - 1].id)
        this.hub.metrics.countDelivered('poll', events)
      }
      const items = events.map((e) => `{"id":"${e.id}","event":"${e.event}","data":${e.json}}`).join(',')
      return `{"events":[${items}]${this.closed === 'replaced' ? ',"replaced":true' : ''}}`
    } finally {
      clearTimeout(timer)
      this.hub.remove(this)
      attachment.detach()
    }
  }
}
