/** Picks the writer for one SSE stream from what carries its request (HTTP/2, a socket, or none). */
import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'
import { Socket } from 'node:net'
import type { FastifyReply } from 'fastify'
import { Http2Out } from './http2-out.js'
import { ResponseOut } from './response-out.js'
import { SocketOut } from './socket-out.js'
import type { Headers, StreamOut } from './stream-out.js'

export function streamOut(reply: FastifyReply, headers: Headers): StreamOut {
  const raw = reply.raw as ServerResponse | Http2ServerResponse
  // HTTP/2: the response's own stream. HTTP/1.x on a real connection (TLS included: a TLSSocket is a
  // Socket): the socket. app.inject() (a fake socket) goes through the response object.
  if ('stream' in raw && raw.stream) return new Http2Out(raw.stream, headers)
  const socket = reply.raw.socket
  return socket instanceof Socket && reply.request.raw.httpVersionMajor === 1 ? new SocketOut(reply, socket, headers) : new ResponseOut(reply.raw, headers)
}
