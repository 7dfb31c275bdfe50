/**
 * The SSE stream of an HTTP/1.x request written to its socket by sigpost itself, with its own chunked
 * framing: the hot path for most streams.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyReply } from 'fastify'
import { FRAMING, type Headers, WritableOut } from './stream-out.js'

/**
 * The response head and body written to the socket by sigpost itself, with its own chunked framing: one
 * string and one write per batch of events, and none of Node's per-response state kept alive for the
 * hours a stream stays open (the head is not kept as a string, nothing is buffered in the response).
 * Node's HTTP server still owns the connection and sees it close. The connection is closed when the
 * stream ends (the response head says so), as HTTP/1.0 requires anyway for a body without a length.
 */
export class SocketOut extends WritableOut<Socket> {
  private readonly chunked: boolean

  constructor(reply: FastifyReply, socket: Socket, headers: Headers) {
    super(socket)
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
    // The response object never finishes (the socket carries the stream), so Fastify's listeners for its
    // end would only keep its request, reply and child logger alive for as long as the stream is open.
    for (const event of ['finish', 'error'] as const) {
      for (const listener of reply.raw.listeners(event)) if (listener.name === 'onResFinished') reply.raw.removeListener(event, listener as () => void)
    }
  }

  write(text: string): boolean {
    if (!this.sink.writable) return false
    this.sink.write(this.frame(text))
    return true
  }

  end(text?: string, now = false): void {
    if (!this.sink.writable) return
    // Judged before the last text: a client that has not read what it was sent is cut at once, while one
    // that reads gets its `replaced` (the last write itself may still count as waiting when it is made).
    if (now && this.sink.writableLength > 0) {
      this.sink.destroy()
      return
    }
    const last = text ? this.frame(text) : ''
    this.sink.write(this.chunked ? `${last}0\r\n\r\n` : last)
    // Sends what is left, then closes: a client that vanished cannot keep the connection (and a
    // shutdown) waiting for its side of the close.
    this.sink.destroySoon()
  }

  private frame(text: string): string {
    return this.chunked ? `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n` : text
  }
}
