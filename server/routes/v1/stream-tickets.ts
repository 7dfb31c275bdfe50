/** POST /v1/stream-tickets: single-use tickets that open an SSE stream without the session token in its URL. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { hashToken, newToken, requestTokenHash, presentedToken } from '../../auth/tokens.js'
import { AUTHENTICATED, BearerAuth, errors, Tags, WITH_BODY } from '../../schemas/common.js'
import { TicketCreated } from '../../schemas/tickets.js'

/**
 * POST /v1/stream-tickets: a single-use secret that opens one SSE stream (`GET /v1/events?ticket=`), so
 * that an EventSource, which cannot set headers, never carries the session token in its URL.
 * Stored only as a hash, with the hash of the session's token, for STREAM_TICKET_TTL_S.
 */
const streamTickets: FastifyPluginAsyncTypebox = async (app) => {
  const { config, store } = app

  app.post('/stream-tickets', {
    onRequest: app.requireSession,
    config: { rateLimit: app.sendRateLimit },
    schema: {
      summary: 'A single-use ticket that opens one event stream (GET /v1/events?ticket=)', operationId: 'createStreamTicket', security: BearerAuth, tags: Tags.events,
      response: { 201: TicketCreated, ...errors(AUTHENTICATED, WITH_BODY, 'rate_limited') },
    },
  }, async (request, reply) => {
    const ticket = newToken()
    await store.createTicket(hashToken(ticket), requestTokenHash(request, presentedToken(request, false)!), config.streamTicketTtlS * 1000)
    reply.code(201).header('Cache-Control', 'no-store')
    return { ticket, expiresInS: config.streamTicketTtlS }
  })
}

export default streamTickets
