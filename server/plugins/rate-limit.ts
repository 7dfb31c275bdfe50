/**
 * Request budgets: the route configs for sends and for authenticated reads (per session, falling back to
 * per address), counted in Redis when sigpost uses Redis so that a limit holds across instances.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit'
import { presentedToken, requestTokenHash } from '../auth/tokens.js'
import { usesRedis, type Config } from '../config.js'
import { addressKey } from '../edge/address.js'
import { ApiError, type ErrorBody } from '../errors.js'
import { closeRedis, connectRedis, untilReady } from '../store/redis/connection.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Route rate-limit config for sends: per session, falling back to per IP. */
    sendRateLimit: RateLimitOptions
    /** The same for authenticated reads (directory, call state, ICE servers, streams), with its own budget. */
    readRateLimit: RateLimitOptions
  }
}

const rateLimits: FastifyPluginAsync<{ config: Config }> = async (app, { config }) => {
  // Keyed by the token's hash, so it works before authentication and never keeps the token itself.
  const perSession = (request: FastifyRequest) => {
    const token = presentedToken(request, true)
    return token ? `s:${requestTokenHash(request, token)}` : `ip:${addressKey(request.ip)}`
  }
  app.decorate('sendRateLimit', { max: config.rateSendPerWindow, timeWindow: config.rateWindowMs, keyGenerator: perSession })
  app.decorate('readRateLimit', { max: config.rateReadPerWindow, timeWindow: config.rateWindowMs, keyGenerator: perSession })

  // With Redis, the counts are shared too: a limit holds across instances, wherever requests land.
  const rateRedis = usesRedis(config) ? connectRedis(config, 'rate-limit') : undefined
  if (rateRedis) {
    app.addHook('onClose', async () => closeRedis(rateRedis))
    // Until it is connected the limiter would let every request through (skipOnError).
    await untilReady(rateRedis).catch(() => {})
  }
  await app.register(rateLimit, {
    global: false,
    // A route without its own key (registration) counts per address: an IPv6 client by its /64.
    keyGenerator: (request) => addressKey(request.ip),
    ...(rateRedis ? { redis: rateRedis, nameSpace: `${config.redisPrefix}rl:`, skipOnError: true } : {}),
    errorResponseBuilder: (_request, context) => {
      const error = new ApiError('rate_limited', `Too many requests; retry in ${Math.ceil(context.ttl / 1000)} s.`, {
        'Retry-After': String(Math.ceil(context.ttl / 1000)),
      })
      return error as unknown as ErrorBody
    },
  })
}

// fastify-plugin: the routes of sigpost's context use these configs and this limiter.
export default fp(rateLimits, { name: 'sigpost-rate-limit' })
