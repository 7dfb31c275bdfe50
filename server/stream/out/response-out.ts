/** The SSE stream written through Node's response object, for a request with no real connection (app.inject()). */
import type { ServerResponse } from 'node:http'
import { type Headers, WritableOut } from './stream-out.js'

/** The same as SocketOut through Node's response object, for a request with no real connection (app.inject()). */
export class ResponseOut extends WritableOut<ServerResponse> {
  constructor(res: ServerResponse, headers: Headers) {
    super(res)
    res.writeHead(200, headers)
  }

  write(text: string): boolean {
    if (!this.sink.writable) return false
    this.sink.write(text)
    return true
  }

  end(text?: string, now = false): void {
    if (!this.sink.writable) return
    if (now && this.sink.writableLength > 0) {
      this.sink.destroy()
      return
    }
    this.sink.end(text)
  }
}
