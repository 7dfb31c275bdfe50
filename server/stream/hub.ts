/**
 * Every open receiver of one app in one place: the shared heartbeat timers (one queue for each stream's
 * first heartbeat 1 s after `ready`, one interval for all, instead of a timer per stream), and closing
 * them all on shutdown so that app.close() returns promptly with streams open.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { Metrics } from '../metrics.js'

/** Why a receiver stopped. */
export type Why = 'replaced' | 'ended' | 'shutdown' | 'disconnected' | 'slow'

export interface Closable {
  close(why: Why): void
  /** Once responding: settles when the response is finished or its connection closed (shutdown waits). */
  readonly finished: Promise<void> | undefined
  /** Cuts the connection (a client that does not read cannot hold the shutdown up). */
  destroy(): void
}

/** A receiver that the hub's timers send heartbeats to (an SSE stream). */
export interface Beating extends Closable {
  heartbeat(): void
}

function beats(receiver: Closable): receiver is Beating {
  return 'heartbeat' in receiver
}

/** How long shutdown waits for ended responses to flush before it cuts their sockets. */
const SHUTDOWN_FLUSH_MS = 2000
/** A stream's first heartbeat comes this long after its `ready` (docs/http-api.md "Events"), whatever heartbeatMs is. */
export const FIRST_HEARTBEAT_MS = 1000

/** Every open receiver of one app: heartbeats, and closing them all on shutdown. */
export class ReceiverHub {
  private readonly open = new Set<Closable>()
  private readonly sse = new Set<Beating>()
  private readonly timer: NodeJS.Timeout
  /** Streams waiting for their first heartbeat, oldest first (all wait the same time: a FIFO). */
  private readonly fresh: Array<{ stream: Beating; due: number }> = []
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
  firstHeartbeat(stream: Beating): void {
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
    if (beats(receiver)) this.sse.add(receiver)
  }

  remove(receiver: Closable): void {
    this.open.delete(receiver)
    if (beats(receiver)) this.sse.delete(receiver)
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
