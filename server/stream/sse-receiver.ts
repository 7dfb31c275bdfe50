/**
 * The SSE receiver: one session's event stream, written to the connection (see out/), events framed by
 * fastify-sse-v2's serializer. It attaches to the store as the session's one live stream; a newer one
 * replaces an older one. A probe stream (`?probe=1`) is an SSE stream with no attachment: `ready` and
 * heartbeats only. Heartbeats are `event: heartbeat` (EventSource shows them, so a client can tell a
 * silent stream from a live one), sent by the hub's shared timers.
 */
import type { FastifyReply } from 'fastify'
import { serializeSSEEvent } from 'fastify-sse-v2/lib/sse.js'
import type { EventData, StreamEventType } from '../../protocol/index.js'
import type { Attachment, StoredEvent, StreamListener } from '../store/types.js'
import type { Beating, ReceiverHub, Why } from './hub.js'
import { streamOut } from './out/index.js'
import type { StreamOut } from './out/stream-out.js'
import { WakeLatch } from './wake-latch.js'

/**
 * A probe stream ends once it is this old (at the next heartbeat after it): its client decides within 3 s,
 * and a probe must outlive that by far, or a buffering proxy would flush it in time and pass it as streaming.
 */
const PROBE_LIFETIME_MS = 30_000

export class SseReceiver implements StreamListener, Beating {
  private readonly latch = new WakeLatch()
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
    this.latch.fire()
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
    this.latch.fire()
  }

  close(why: Why): void {
    this.closed ??= why
    this.hub.remove(this)
    this.latch.fire()
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
      this.latch.fire()
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
        await this.latch.wait()
        continue
      }
      let batch: StoredEvent[]
      try {
        batch = attachment ? await attachment.read() : []
      } catch {
        // The store is unreachable: keep the stream (and its heartbeats) and read again on the next wake;
        // the store wakes every stream when it is back, so a blip costs latency, never an event.
        await this.latch.wait()
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
        await this.latch.wait()
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
