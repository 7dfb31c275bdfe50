import { createHmac } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Config } from '../../config.js'
import { AUTHENTICATED, BearerAuth, errors, IceServer, Tags } from '../../schemas/common.js'

/**
 * STUN entries, plus TURN entries with time-limited credentials in the TURN REST API form that coturn
 * checks with `use-auth-secret` / `static-auth-secret`: username "<expiry>:<name>", credential
 * base64(HMAC-SHA1(secret, username)). https://datatracker.ietf.org/doc/html/draft-uberti-behave-turn-rest-00
 */
export function iceServersFor(config: Config, name: string, now = Date.now()): IceServer[] {
  const servers: IceServer[] = []
  if (config.stunUrls.length > 0) servers.push({ urls: config.stunUrls })
  if (config.turnSecret && config.turnUrls.length > 0) {
    const username = `${Math.floor(now / 1000) + config.turnTtlS}:${name}`
    const credential = createHmac('sha1', config.turnSecret).update(username).digest('base64')
    servers.push({ urls: config.turnUrls, username, credential })
  }
  return servers
}

const iceServers: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/ice-servers', {
    onRequest: app.requireSession,
    config: { rateLimit: app.readRateLimit },
    schema: {
      summary: 'STUN/TURN servers with fresh TURN credentials', operationId: 'iceServers',
      security: BearerAuth, tags: Tags.iceServers,
      response: { 200: Type.Object({ iceServers: Type.Array(IceServer), ttl: Type.Integer() }), ...errors(AUTHENTICATED, 'rate_limited') },
    },
  }, async (request) => ({ iceServers: iceServersFor(app.config, request.session.name), ttl: app.config.turnTtlS }))
}

export default iceServers
