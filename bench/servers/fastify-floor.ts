/**
 * The floor, in Fastify: the same wire protocol as floor.ts (POST /send/<name> → 204, the message written
 * to <name>'s held GET /events/<name>), on Fastify 5 with its defaults (JSON body parsed by its default
 * parser, logger off), no hooks, no schemas, no auth, no store. What any Fastify-based relay costs at least:
 * the difference between this and the floor is Fastify's own per-request work.
 */
import type { ServerResponse } from 'node:http'
import Fastify from 'fastify'

const streams = new Map<string, ServerResponse>()
const app = Fastify({ logger: false, forceCloseConnections: true })

app.post<{ Params: { name: string } }>('/send/:name', (request, reply) => {
  const to = streams.get(request.params.name)
  if (!to) return reply.code(404).send()
  to.write(`data: ${JSON.stringify(request.body)}\n\n`)
  return reply.code(204).send()
})

app.get<{ Params: { name: string } }>('/events/:name', (request, reply) => {
  const { name } = request.params
  const res = reply.raw
  streams.get(name)?.end()
  streams.set(name, res)
  reply.hijack()
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  res.write(': ready\n\n')
  res.on('close', () => {
    if (streams.get(name) === res) streams.delete(name)
  })
})

app.server.keepAliveTimeout = 60_000
await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' })
