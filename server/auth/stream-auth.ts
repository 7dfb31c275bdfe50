/**
 * How a stream request (`GET /v1/events`, `GET /v1/poll`) says whose stream it is, so that the session
 * token never needs to be in a URL (docs/http-api.md "Stream tickets"; OWASP ASVS 5.0 V14.2.1):
 * 1. `Authorization: Bearer <session token>` (fetch-based clients, curl, the element's long-poll);
 * 2. `?ticket=` (SSE only: EventSource cannot set headers), minted by POST /v1/stream-tickets, used up on
 *    its first use, stored only as a hash (in Redis too, so one instance mints and another redeems);
 * 3. `?token=` for compatibility, unless TOKEN_IN_URL is off (the default with verified names).
 */
import type { FastifyRequest } from 'fastify'
import { authenticate, hashToken } from './tokens.js'
import { ApiError } from '../errors.js'
import type { SessionInfo, Store } from '../store/types.js'

export interface StreamAuthOptions {
  /** `?ticket=` is accepted (the SSE endpoint). */
  tickets: boolean
  /** `?token=` is accepted (TOKEN_IN_URL). */
  tokenInUrl: boolean
}

export async function authenticateStream(store: Store, request: FastifyRequest, options: StreamAuthOptions): Promise<SessionInfo> {
  if (request.headers.authorization) return authenticate(store, request, false)
  const query = (request.query ?? {}) as { ticket?: unknown; token?: unknown }
  if (options.tickets && typeof query.ticket === 'string' && query.ticket !== '') {
    const tokenHash = await store.takeTicket(hashToken(query.ticket))
    const session = tokenHash === undefined ? undefined : await store.findSession(tokenHash)
    if (!session) throw new ApiError('unauthorized', 'The stream ticket is used, expired or unknown; get a new one with POST /v1/stream-tickets.')
    return session
  }
  if (typeof query.token === 'string' && query.token !== '' && !options.tokenInUrl) {
    throw new ApiError('unauthorized', 'This server does not take ?token= in a URL: send Authorization: Bearer <token>, or open the stream with ?ticket= from POST /v1/stream-tickets.')
  }
  if (options.tokenInUrl) return authenticate(store, request, true)
  throw new ApiError('unauthorized', options.tickets
    ? 'Send your token as Authorization: Bearer <token>, or open the stream with ?ticket= from POST /v1/stream-tickets.'
    : 'Send your token as Authorization: Bearer <token>.')
}
