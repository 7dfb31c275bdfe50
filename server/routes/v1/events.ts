/** The receiving endpoints: GET /v1/events (the SSE stream, or a probe) and GET /v1/poll (long-poll), each handing the request to a receiver of stream/. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ApiError } from '../../errors.js'
import { tokenInUrlOn } from '../../config.js'
import { AUTHENTICATED, errors, Tags } from '../../schemas/common.js'
import { EventsQuery, PollQuery, PollResponse, EventStreamItem } from '../../schemas/events.js'
import type { Attachment } from '../../store/types.js'
import { PollReceiver } from '../../stream/poll-receiver.js'
import { SseReceiver } from '../../stream/sse-receiver.js'

const EVENT_ID = /^[0-9]{1,16}$/

const events: FastifyPluginAsyncTypebox = async (app) => {
  const { config, store, hub } = app
  const tags = Tags.events
  // The session token as Bearer, or (EventSource cannot set headers) a ticket or the token in the URL.
  const queryToken = tokenInUrlOn(config) ? [{ queryToken: [] as string[] }] : []
  const streamErrors = errors(AUTHENTICATED, 'invalid_query', 'rate_limited')
  // Open probe streams per session name (in this process: a probe is this connection's own question).
  const probes = new Map<string, number>()

  app.get('/events', {
    onRequest: app.requireStreamSession,
    config: { rateLimit: app.readRateLimit },
    schema: {
      summary: 'Receive your events as Server-Sent Events', operationId: 'streamEvents', tags,
      security: [{ bearer: [] }, { ticket: [] }, ...queryToken],
      description: 'retry:, then `event: ready`, then `id:`/`event:`/`data:` per event, and `event: heartbeat` (no id, data {}) 1 s after ready '
        + 'and then every heartbeatMs. Resume with the Last-Event-ID header or ?lastEventId=. A stream replaced by a newer one gets `event: replaced` and ends. '
        + '?probe=1: ready and heartbeats only (no events, replaces nothing), to learn whether streaming works on this path; it ends after 30 s.',
      querystring: EventsQuery,
      response: {
        200: {
          description: 'The stream: `retry:`, `ready`, then the session\'s events (each with `id:`) and heartbeats, until it is replaced or the session ends.',
          headers: {
            'Cache-Control': { type: 'string', const: 'no-cache, no-transform' },
            'X-Accel-Buffering': { type: 'string', const: 'no', description: 'nginx: do not buffer this response.' },
          },
          content: { 'text/event-stream': { schema: EventStreamItem } },
        },
        ...streamErrors,
      },
    },
  }, async (request, reply) => {
    const header = request.headers['last-event-id']
    if (header !== undefined && (typeof header !== 'string' || !EVENT_ID.test(header))) {
      throw new ApiError('invalid_query', 'The Last-Event-ID header must be an event id received earlier.')
    }
    // A HEAD (Fastify answers one for every GET) checks the request and answers the stream's headers; it
    // never takes the place of the session's live stream.
    if (request.method === 'HEAD') {
      return reply.type('text/event-stream; charset=utf-8').headers({ 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' }).send('' as never)
    }
    // A probe is never attached to the session: it neither takes events nor replaces the live stream.
    if (request.query.probe !== undefined) {
      holdProbe(probes, request.session.name, config.maxProbesPerSession, reply.raw)
      new SseReceiver(hub, request.session.name, request.id, config.streamMaxUnreadBytes, true).start(reply, undefined, config.sseRetryMs)
      return reply
    }
    const after = header ?? request.query.lastEventId
    const receiver = new SseReceiver(hub, request.session.name, request.id, config.streamMaxUnreadBytes)
    const attachment = await attachOrLetGo(receiver, () => store.attach(request.session.name, after, 'sse', receiver))
    receiver.start(reply, attachment, config.sseRetryMs)
    return reply
  })

  app.get('/poll', {
    onRequest: app.requireSessionOrQueryToken,
    config: { rateLimit: app.readRateLimit },
    schema: {
      summary: 'Long-poll for your events (for proxies that buffer streams)', operationId: 'pollEvents', tags,
      security: [{ bearer: [] }, ...queryToken],
      querystring: PollQuery,
      response: { 200: PollResponse, ...streamErrors },
    },
  }, async (request, reply) => {
    const waitS = Math.min(request.query.wait ?? config.pollDefaultWaitS, config.pollMaxWaitS)
    const receiver = new PollReceiver(hub)
    const attachment = await attachOrLetGo(receiver, () => store.attach(request.session.name, request.query.after, 'poll', receiver))
    const body = await receiver.respond(reply, attachment, waitS * 1000)
    // A replaced poll's connection is not kept alive: the client that replaced it holds another one.
    if (receiver.closed === 'replaced') reply.header('connection', 'close')
    // The body is built from events serialised once when stored; a JSON string is sent as it is.
    return reply.header('Cache-Control', 'no-store').type('application/json; charset=utf-8').send(body as never)
  })
}

/**
 * Counts a probe stream of `name` until its response closes; past `max` open at once, `429 rate_limited`
 * (issue 22: 12,603 probe streams from one address, each with its heartbeats, slowed an honest call to 1.3 s).
 */
function holdProbe(probes: Map<string, number>, name: string, max: number, response: { once(event: 'close', listener: () => void): unknown }): void {
  const open = probes.get(name) ?? 0
  if (max > 0 && open >= max) {
    throw new ApiError('rate_limited', `A session holds at most ${max} probe streams at once; close one first.`, { 'Retry-After': '1' })
  }
  probes.set(name, open + 1)
  response.once('close', () => {
    const left = (probes.get(name) ?? 1) - 1
    if (left > 0) probes.set(name, left)
    else probes.delete(name)
  })
}

/** A receiver whose attachment failed (store unreachable, session just ended) leaves the hub at once. */
async function attachOrLetGo(receiver: SseReceiver | PollReceiver, attach: () => Promise<Attachment>): Promise<Attachment> {
  try {
    return await attach()
  } catch (error) {
    receiver.close('ended')
    throw error
  }
}

export default events
