/**
 * What every writer of an SSE stream offers the receiver (StreamOut), and the part they share: a writer
 * over one Node writable (a socket, a response, an HTTP/2 stream) whose back-pressure, close and cut are
 * that writable's own.
 */
import type { Writable } from 'node:stream'

/** A response's headers as Fastify's reply holds them. */
export type Headers = Record<string, string | number | string[] | undefined>

/** Headers that frame the body or the connection: SocketOut sets them itself. */
export const FRAMING = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive', 'date'])

/** Where an SSE stream's bytes go: the socket itself, or (with no real connection) the response object. */
export interface StreamOut {
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

/** The tail every writer shares: the writable it writes to is the one that drains, closes and is cut. */
export abstract class WritableOut<W extends Writable> implements StreamOut {
  readonly finished: Promise<void>

  constructor(protected readonly sink: W) {
    this.finished = new Promise((resolve) => {
      sink.once('close', () => resolve())
      sink.once('finish', () => resolve())
    })
  }

  abstract write(text: string): boolean
  abstract end(text?: string, now?: boolean): void

  destroy(): void {
    this.sink.destroy()
  }

  get unread(): number {
    return this.sink.writableLength
  }

  get needDrain(): boolean {
    return this.sink.writableNeedDrain
  }

  onDrain(listener: () => void): void {
    this.sink.on('drain', listener)
  }

  onClose(listener: () => void): void {
    this.sink.once('close', listener)
  }
}
