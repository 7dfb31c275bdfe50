/**
 * Who is asking: the onRequest hooks that routes name to require a session (by header, by ticket or
 * ?token= on the stream endpoints), and the verifier of verified names' JWTs.
 */
import type { FastifyPluginAsync, FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { JwtVerifier } from '../auth/jwt.js'
import { authenticateStream } from '../auth/stream-auth.js'
import { authenticate } from '../auth/tokens.js'
import { tokenInUrlOn, verifiedNames, type Config } from '../config.js'
import type { SessionInfo } from '../store/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook: 401 unless the Authorization header carries a live session's token. */
    requireSession: onRequestHookHandler
    /** The same, also accepting ?token= when TOKEN_IN_URL allows it (the long-poll endpoint). */
    requireSessionOrQueryToken: onRequestHookHandler
    /** The SSE endpoint's: the header, a stream ticket (?ticket=), or ?token= when TOKEN_IN_URL allows it. */
    requireStreamSession: onRequestHookHandler
    /** Verified names (AUTH_JWKS_URL / AUTH_JWT_SECRET); undefined in open mode. */
    jwt: JwtVerifier | undefined
  }
  interface FastifyRequest {
    /** The sender: the holder of the presented token (set by requireSession). */
    session: SessionInfo
    /** The presented token's hash, once computed (auth/tokens.ts requestTokenHash). */
    tokenHash: { token: string; hash: string } | null
  }
}

const auth: FastifyPluginAsync<{ config: Config }> = async (app, { config }) => {
  const store = app.store
  app.decorateRequest('session', null as unknown as SessionInfo)
  app.decorateRequest('tokenHash', null)
  const requireSession = (allowQuery: boolean): onRequestHookHandler => async (request) => {
    request.session = await authenticate(store, request, allowQuery)
  }
  app.decorate('requireSession', requireSession(false))
  const tokenInUrl = tokenInUrlOn(config)
  app.decorate('requireSessionOrQueryToken', async (request: FastifyRequest) => {
    request.session = await authenticateStream(store, request, { tickets: false, tokenInUrl })
  })
  app.decorate('requireStreamSession', async (request: FastifyRequest) => {
    request.session = await authenticateStream(store, request, { tickets: true, tokenInUrl })
  })
  app.decorate('jwt', verifiedNames(config) ? new JwtVerifier(config, app.log) : undefined)
}

// fastify-plugin: the hooks are decorated on sigpost's context, where every route can name them.
export default fp(auth, { name: 'sigpost-auth' })
