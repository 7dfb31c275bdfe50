/**
 * A body too large answered so that its client sees the answer (issue 22: with `Expect: 100-continue` and
 * a 2 MB body, about 1 in 8 clients saw a connection reset instead of the `413`).
 *
 * - `Expect: 100-continue` with a `Content-Length` already over the limit: no `100 Continue` is sent; the
 *   request goes on to the router, whose body parser answers `413 body_too_large` from the header alone.
 * - Any `413` before the body has arrived whole: the answer closes the connection (a client may still be
 *   sending), and closing a socket with unread bytes in it resets the connection, which can discard the
 *   `413` at the client before it is read. So the server first reads and discards the rest of the body,
 *   until it is complete, the client closes its side, or REQUEST_TIMEOUT_MS has passed (a request must
 *   arrive whole within it anyway), and only then closes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

type ContinueListener = (request: IncomingMessage, response: ServerResponse) => void

/**
 * The server's `checkContinue` listener: `100 Continue` only for a body that may be accepted. The request
 * is then handled as any other (`emit('request')`, as Node does without a listener).
 */
export function continueWithin(server: { emit(event: 'request', ...args: unknown[]): boolean }, limitBytes: number): ContinueListener {
  return (request, response) => {
    const declared = Number(request.headers['content-length'])
    if (!(declared > limitBytes)) response.writeContinue()
    server.emit('request', request, response)
  }
}

/**
 * Makes the close that follows this request's answer a lingering one: the rest of its body is read and
 * discarded (the HTTP parser reads on, the request object is dumped) before the socket is destroyed,
 * waiting at most `maxMs`. Nothing changes for an HTTP/2 stream, whose body the session frames.
 */
export function discardRestBeforeClose(request: IncomingMessage, maxMs: number): void {
  const socket = request.socket as Socket & { destroySoon?: () => void }
  if (request.complete || !socket || typeof socket.destroySoon !== 'function' || request.httpVersionMajor !== 1) return
  socket.destroySoon = () => {
    // Destroyed once the answer is written and nothing more is coming (or at the time-out).
    let written = socket.writableFinished
    let drained = request.complete
    const timer = setTimeout(() => socket.destroy(), maxMs)
    timer.unref()
    const closeWhenDone = (): void => {
      if (written && drained) socket.destroy()
    }
    socket.once('close', () => clearTimeout(timer))
    socket.once('finish', () => {
      written = true
      closeWhenDone()
    })
    const bodyDone = (): void => {
      drained = true
      closeWhenDone()
    }
    request.once('end', bodyDone)
    socket.once('end', bodyDone)
    if (socket.writable) socket.end()
    else bodyDone()
  }
}
