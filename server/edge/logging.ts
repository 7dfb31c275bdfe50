/**
 * What sigpost writes to its log per request. Fastify's own two lines per request are off
 * (`disableRequestLogging`); sigpost writes one line per request itself, by LOG_REQUESTS:
 * `errors` (default) only for responses >= 400 (4xx at info, 5xx at error), `all` for every request,
 * `none` never. A busy call relays dozens of candidates a second: a line each would cost more CPU than
 * the relay (issue 11 measured a third more per message) and bury the errors an operator looks for.
 *
 * No line carries what the client wrote in its URL: the stream endpoints accept `?token=`, spelled in ways a
 * pattern misses (`?%74oken=`, `?TOKEN=`, twice), and a token can as well be sent as a path segment
 * (`GET /v1/calls/<token>`). A line names the route by its template (`/v1/calls/:callId`) instead, or
 * `(no route)` for a request that matched none.
 */
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify'
import type { Config } from '../config.js'
import { isRefusal, type RefusalBudget } from './refusals.js'

/** What a log line says for a request that matched no route (its raw path could hold a token). */
export const NO_ROUTE = '(no route)'

/** The template of the route a request matched (`/v1/calls/:callId`), never the path the client sent. */
export function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? NO_ROUTE
}

/** Pino options without secrets: no header or query string is logged. */
export function loggerOptions(config: Config, given: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (given === false) return false
  const base = typeof given === 'object' ? given : {}
  return {
    level: config.logLevel,
    ...base,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'token', '*.token'], censor: '[redacted]' },
    serializers: {
      req: (request: FastifyRequest) => ({ method: request.method, route: routeOf(request), remoteAddress: request.ip }),
    },
  }
}

/**
 * Adds the one line per request that LOG_REQUESTS asks for. A refusal (`401`, `429`) is logged at most once
 * per client address a minute, its line saying how many refusals it stands for (`refusals`: itself and those
 * not logged since), as `refusals` decides (edge/refusals.ts, whose hook runs before this one).
 */
export function installRequestLog(app: FastifyInstance, mode: Config['logRequests'], refusals: RefusalBudget): void {
  if (mode === 'none') return
  const all = mode === 'all'
  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode
    if (status >= 400 || all) {
      const standsFor = isRefusal(status) ? refusals.lineFor(request) : undefined
      if (standsFor === null) return done()
      const line = { method: request.method, route: routeOf(request), statusCode: status, ms: Math.round(reply.elapsedTime), remoteAddress: request.ip, ...(standsFor ? { refusals: standsFor } : {}) }
      if (status >= 500) request.log.error(line, 'request')
      else request.log.info(line, 'request')
    }
    done()
  })
}
