/** GET /v1/ice-servers: the STUN and TURN servers a client should use, with fresh TURN credentials. */
import { createHmac } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Config } from '../../config.js'
import { AUTHENTICATED, BearerAuth, errors, IceServer, Tags } from '../../schemas/common.js'

/**
 * Where a URL goes in the list (docs/operations.md "Corporate networks"): STUN, `turn:` over UDP, `turn:`
 * over TCP, `turns:`, and TLS on 443 last — the way out of a proxied office network is the slowest path,
 * and an open network must never pay for it. Browsers gather from every URL; the order is what a client
 * that tries them one by one, and a reader of the list, go by.
 */
function rank(url: string): number {
  const lower = url.toLowerCase()
  if (lower.startsWith('stun:') || lower.startsWith('stuns:')) return 0
  const transport = /[?&]transport=([a-z]+)/.exec(lower)?.[1] ?? 'udp'
  if (lower.startsWith('turn:')) return transport === 'tcp' ? 2 : 1
  // turns:host[:port][?transport=…]; the port after the host (an IPv6 host is bracketed).
  const port = /^turns:(?:\[[^\]]*\]|[^:?]*)(?::(\d+))?/.exec(lower)?.[1] ?? '5349'
  return port === '443' ? 4 : 3
}

/** `urls` in rank order, keeping TURN_URLS's order among URLs of the same rank (a stable sort). */
export function orderIceUrls(urls: readonly string[]): string[] {
  return [...urls].sort((a, b) => rank(a) - rank(b))
}

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
    servers.push({ urls: orderIceUrls(config.turnUrls), username, credential })
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
