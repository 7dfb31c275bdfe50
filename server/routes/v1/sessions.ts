import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { hashToken, newToken } from '../../auth.js'
import { BearerAuth, errors } from '../../schemas/common.js'
import { CreateSessionBody, DIRECTORY_PAGE, SessionCreated, SessionList, SessionListQuery } from '../../schemas/sessions.js'
import { iceServersFor } from './ice-servers.js'

const sessions: FastifyPluginAsyncTypebox = async (app) => {
  const { config, store } = app

  app.post('/sessions', {
    schema: {
      summary: 'Register a name (the seed\'s "register")',
      body: CreateSessionBody,
      response: { 201: SessionCreated, ...errors(400, 409, 413, 415, 429) },
    },
    config: { rateLimit: { max: config.rateRegisterPerWindow, timeWindow: config.rateWindowMs } },
  }, async (request, reply) => {
    const token = newToken()
    const session = await store.createSession(request.body.name, hashToken(token), { ip: request.ip })
    request.log.info({ name: session.name }, 'session registered')
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
    config: { rateLimit: app.readRateLimit },
    schema: {
      summary: 'Registered names, one page at a time in name order (the seed\'s "list")', security: BearerAuth,
      querystring: SessionListQuery,
      response: { 200: SessionList, ...errors(400, 401, 429) },
    },
  }, async (request) => store.listNames(request.query.after, request.query.limit ?? DIRECTORY_PAGE.default))

  app.delete('/sessions/current', {
    onRequest: app.requireSession,
    schema: { summary: 'End your session now; its call ends as hangup', security: BearerAuth, response: { 204: { type: 'null' }, ...errors(401) } },
  }, async (request, reply) => {
    await store.endSession(request.session.name, 'hangup')
    reply.code(204)
  })
}

export default sessions
