/** POST /v1/sessions (register a name, open or verified), DELETE /v1/sessions (end it) and GET /v1/sessions (the directory). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { hashToken, newToken, presentedToken } from '../../auth/tokens.js'
import { directoryOn } from '../../config.js'
import { addressKey } from '../../edge/address.js'
import { ApiError } from '../../errors.js'
import { AUTHENTICATED, BearerAuth, errors, Tags, WITH_BODY } from '../../schemas/common.js'
import { CreateSessionBody, CreateVerifiedSessionBody, DIRECTORY_PAGE, SessionCreated, SessionList, SessionListQuery } from '../../schemas/sessions.js'
import type { NewSession } from '../../store/types.js'
import { iceServersFor } from './ice-servers.js'

const sessions: FastifyPluginAsyncTypebox = async (app) => {
  const { config, store, jwt } = app
  const directory = directoryOn(config)

  /** The name to hold and how: the body's (open mode), or the one a verified JWT grants. */
  const identify = async (request: FastifyRequest, given: { name?: string; takeOver?: boolean } | null): Promise<[string, Omit<NewSession, 'ip'>]> => {
    const body = given ?? {}
    if (!jwt) {
      if (body.takeOver) throw new ApiError('forbidden', 'Taking a name over needs verified names; this server gives names first come, first served.')
      return [body.name!, {}]
    }
    const identity = await jwt.verify(presentedToken(request, false))
    if (body.name !== undefined && body.name !== identity.name) {
      throw new ApiError('name_not_allowed', `Your credentials grant the name "${identity.name}", not "${body.name}".`)
    }
    return [identity.name, { takeOver: body.takeOver === true, mayCall: identity.mayCall }]
  }

  app.post('/sessions', {
    schema: {
      summary: jwt ? 'Register the name your JWT grants (Authorization: Bearer <JWT>)' : 'Register a name',
      operationId: 'createSession',
      description: '`rate_limited` also when your address holds MAX_SESSIONS_PER_IP live sessions. '
        + (jwt ? '`takeOver: true` ends the session that holds your name.' : '`takeOver` needs verified names: `forbidden` here.'),
      tags: Tags.sessions,
      // With verified names the Bearer is the JWT (not a session token): no session is looked up.
      ...(jwt ? { security: BearerAuth } : { security: [] }),
      body: jwt ? CreateVerifiedSessionBody : CreateSessionBody,
      response: {
        201: SessionCreated,
        ...errors(WITH_BODY, 'invalid_name', 'forbidden', 'name_taken', 'rate_limited', 'store_unavailable',
          ...(jwt ? ['invalid_credentials', 'name_not_allowed', 'auth_unavailable'] as const : [])),
      },
    },
    config: { rateLimit: { max: config.rateRegisterPerWindow, timeWindow: config.rateWindowMs } },
  }, async (request, reply) => {
    const [name, options] = await identify(request, request.body)
    const token = newToken()
    const session = await store.createSession(name, hashToken(token), { ip: addressKey(request.ip), ...options })
    if (config.logRequests === 'all') request.log.info({ name: session.name }, 'session registered')
    reply.code(201)
    return {
      name: session.name,
      token,
      iceServers: iceServersFor(config, session.name),
      heartbeatMs: config.heartbeatMs,
      graceMs: config.graceMs,
    }
  })

  app.get('/sessions', {
    onRequest: app.requireSession,
    // The directory has a budget of its own, far below other reads': a page of 500 names is the most
    // expensive answer the API gives, and a UI refreshes it now and then, not many times a second.
    config: { rateLimit: { ...app.readRateLimit, max: config.rateDirectoryPerWindow } },
    schema: {
      summary: 'Registered names, one page at a time in name order', operationId: 'listNames', security: BearerAuth, tags: Tags.sessions,
      description: '`forbidden` when the directory is off (DIRECTORY=off, or verified names without DIRECTORY=on).',
      querystring: SessionListQuery,
      response: { 200: SessionList, ...errors(AUTHENTICATED, 'invalid_query', 'forbidden', 'rate_limited') },
    },
  }, async (request) => {
    if (!directory) throw new ApiError('forbidden', 'The directory of names is turned off on this server.')
    return store.listNames(request.query.after, request.query.limit ?? DIRECTORY_PAGE.default)
  })

  app.delete('/sessions/current', {
    onRequest: app.requireSession,
    schema: { summary: 'End your session now; its call ends as hangup', operationId: 'endSession', security: BearerAuth, tags: Tags.sessions, response: { 204: { type: 'null' }, ...errors(AUTHENTICATED, WITH_BODY) } },
  }, async (request, reply) => {
    await store.endSession(request.session.name, 'hangup')
    reply.code(204)
  })
}

export default sessions
