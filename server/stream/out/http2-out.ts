/** The SSE stream of an HTTP/2 request written as DATA frames of its own HTTP/2 stream. */
import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import { FRAMING, type Headers, WritableOut } from './stream-out.js'

/** Headers that HTTP/2 forbids (connection-specific, RFC 9113 §8.2.2) or that frame an HTTP/1 body. */
const NOT_IN_HTTP2 = new Set([...FRAMING, 'upgrade', 'proxy-connection', 'te'])

/**
 * The stream's bytes as DATA frames of its HTTP/2 stream: the stream is the flow-controlled unit (one
 * slow tab does not hold up the others on the same connection), and ending it ends only this response,
 * never the connection that the page's other requests share.
 */
export class Http2Out extends WritableOut<ServerHttp2Stream> {
  constructor(stream: ServerHttp2Stream, headers: Headers) {
    super(stream)
    const head: OutgoingHttpHeaders = { ':status': 200 }
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined && !NOT_IN_HTTP2.has(name.toLowerCase())) head[name.toLowerCase()] = value
    }
    stream.respond(head)
  }

  write(text: string): boolean {
    if (this.sink.destroyed || !this.sink.writable) return false
    this.sink.write(text)
    return true
  }

  end(text?: string, now = false): void {
    if (this.sink.destroyed || !this.sink.writable) return
    // Judged before the last text: an HTTP/2 stream's writes leave through its session a moment later,
    // so the last text itself always waits, and cutting then would lose the `replaced` a reading client
    // needs. Earlier bytes still waiting: the client does not read; cut this stream only (RST_STREAM),
    // never the connection that the page's other requests share.
    if (now && this.sink.writableLength > 0) {
      this.sink.destroy()
      return
    }
    this.sink.end(text)
  }
}
