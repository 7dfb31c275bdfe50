/**
 * What sigpost writes to its log per request. Fastify's own two lines per request are off
 * (`disableRequestLogging`); sigpost writes one line per request itself, by LOG_REQUESTS:
 * `errors` (default) only for responses >= 400 (4xx at info, 5xx at error), `all` for every request,
 * `none` never. A busy call relays dozens of candidates a second: a line each would cost more CPU than
 * the relay (issue 11 measured a third more per message) and bury the errors an operator looks for.
 *
 * No line carries a query string: the stream endpoints accept `?token=`, and a client can spell that
 * parameter in ways a pattern misses (`?%74oken=`, `?TOKEN=`, twice), so the path alone is logged.
 */
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify'
import type { Config } from '../config.js'

/** The path of a request URL, without its query string or fragment. */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
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
      req: (request: FastifyRequest) => ({ method: request.method, url: pathOf(request.url), remoteAddress: request.ip }),
    },
  }
}

/** Adds the one line per request that LOG_REQUESTS asks for. */
export function installRequestLog(app: FastifyInstance, mode: Config['logRequests']): void {
  if (mode === 'none') return
  const all = mode === 'all'
  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode
    if (status >= 400 || all) {
      const line = { method: request.method, url: pathOf(request.url), statusCode: status, ms: Math.round(reply.elapsedTime), remoteAddress: request.ip }
      if (status >= 500) request.log.error(line, 'request')
      else request.log.info(line, 'request')
    }
    done()
  })
}
