/**
 * The two receiving transports over one cursor and one envelope: an SSE stream (written to the socket,
 * framed by fastify-sse-v2's serializer) and a long-poll responder. Both attach to the store as the session's one live stream; a newer one replaces
 * an older one. A single shared interval sends every stream's heartbeat, instead of a timer per stream.
 */
import type { ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import { serializeSSEEvent } from 'fastify-sse-v2/lib/sse.js'
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
  close(why: 'replaced' | 'ended' | 'shutdown'): void
  /** The response, once attached: shutdown waits for it to finish. */
  response?: ServerResponse
}

/** How long shutdown waits for ended responses to flush before it cuts their sockets. */
const SHUTDOWN_FLUSH_MS = 2000

/** Every open receiver of one app: heartbeats, and closing them all on shutdown. */
export class ReceiverHub {
  private readonly open = new Set<Closable>()
  private readonly sse = new Set<SseReceiver>()
  private readonly timer: NodeJS.Timeout

  constructor(
    heartbeatMs: number,
    readonly metrics: Metrics,
  ) {
    this.timer = setInterval(() => {
      for (const stream of this.sse) stream.heartbeat()
    }, heartbeatMs).unref()
  }

  add(receiver: Closable): void {
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
    clearInterval(this.timer)
    const responses = [...this.open].flatMap((receiver) => (receiver.response ? [receiver.response] : []))
    for (const receiver of [...this.open]) receiver.close('shutdown')
    const finished = responses.map((res) => (res.closed || res.writableFinished ? undefined : new Promise((resolve) => {
      res.once('finish', resolve)
      res.once('close', resolve)
    })))
    let timer: NodeJS.Timeout | undefined
    const cutOff = new Promise((resolve) => (timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS).unref()))
    await Promise.race([Promise.all(finished), cutOff])
    clearTimeout(timer)
    // A client that does not read its stream cannot hold the shutdown up.
    for (const res of responses) if (!res.writableFinished) res.destroy()
  }
}

export class SseReceiver implements StreamListener, Closable {
  private readonly signal = new Signal()
  private closed?: 'replaced' | 'ended' | 'shutdown' | 'disconnected'
  private heartbeatDue = false
  private attachment?: Attachment
  response?: ServerResponse

  constructor(
    private readonly hub: ReceiverHub,
    private readonly name: string,
  ) {
    hub.add(this)
  }

  wake(): void {
    this.signal.fire()
  }

  heartbeat(): void {
    this.attachment?.touch()
    this.heartbeatDue = true
    this.signal.fire()
  }

  close(why: 'replaced' | 'ended' | 'shutdown' | 'disconnected'): void {
    this.closed ??= why
    this.hub.remove(this)
    this.signal.fire()
  }

  /**
   * Writes the stream straight to the socket. fastify-sse-v2's `reply.sse()` builds two pipelines per
   * stream (an it-pushable and the given iterable, each through it-to-stream): about 24 KiB of heap per
   * idle stream and several promise hops per event (bench, `npm run bench -- --heap`); a plain response
   * costs about 5 KiB. Its serializer still frames every event. Back-pressure: after a write that the
   * socket did not take at once, nothing more is read until it drains, so a slow client's events stay
   * undelivered in its mailbox (counted against its limit) instead of piling up in memory here.
   */
  start(reply: FastifyReply, attachment: Attachment, retryMs: number): void {
    const raw = reply.raw
    this.response = raw
    this.attachment = attachment
    raw.on('close', () => {
      this.close('disconnected')
      attachment.detach()
    })
    raw.on('drain', () => this.signal.fire())
    reply.hijack()
    // Headers set by hooks (CORS, rate limit) go out with the stream's own.
    raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    })
    raw.write(`retry: ${retryMs}\n\n${serializeSSEEvent({ event: 'ready', data: JSON.stringify({ name: this.name }) })}`)
    void this.pump(raw, attachment)
  }

  private async pump(raw: ServerResponse, attachment: Attachment): Promise<void> {
    while (!this.closed) {
      if (raw.writableNeedDrain) {
        await this.signal.wait()
        continue
      }
      let batch: StoredEvent[]
      try {
        batch = await attachment.read()
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
        raw.write(chunk)
        // Handed to the socket: written.
        attachment.sent(batch[batch.length - 1].id)
        this.hub.metrics.countDelivered('sse', batch)
      } else if (this.heartbeatDue) {
        this.heartbeatDue = false
        raw.write(': heartbeat\n\n')
      } else {
        await this.signal.wait()
      }
    }
    if (raw.destroyed) return
    // Tells the client not to reconnect this stream: a newer one of the same session took over.
    if (this.closed === 'replaced') raw.write(serializeSSEEvent({ event: 'replaced', data: '{}' }))
    raw.end()
  }
}

export class PollReceiver implements StreamListener, Closable {
  private readonly signal = new Signal()
  closed?: 'replaced' | 'ended' | 'shutdown' | 'disconnected'
  response?: ServerResponse

  constructor(private readonly hub: ReceiverHub) {
    hub.add(this)
  }

  wake(): void {
    this.signal.fire()
  }

  close(why: 'replaced' | 'ended' | 'shutdown' | 'disconnected'): void {
    this.closed ??= why
    this.hub.remove(this)
    this.signal.fire()
  }

  /**
   * Everything after the cursor, at once if there is any; otherwise waits up to `waitMs` for the first
   * event. Returns the response body as a string: each event's data was serialised once when stored.
   */
  async respond(reply: FastifyReply, attachment: Attachment, waitMs: number): Promise<string> {
    this.response = reply.raw
    reply.raw.on('close', () => this.close('disconnected'))
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
