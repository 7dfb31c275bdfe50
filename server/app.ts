/**
 * buildApp(options): the whole sigpost service as one Fastify instance, not listening. Tests inject()
 * into it or listen({ port: 0 }); main.ts listens. A thin wrapper around the plugin (plugin.ts): this
 * file holds what only the application can set, the Fastify server's own options.
 */
import { readFileSync } from 'node:fs'
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { resolveConfig, type Config } from './config.js'
import { continueWithin } from './edge/body-limit.js'
import { loggerOptions } from './edge/logging.js'
import { makeFrameworkErrors, makeClientErrorHandler, type ErrorCode } from './errors.js'
import sigpost, { type SigpostOptions } from './plugin.js'

export type { SigpostOptions }

export interface BuildOptions extends SigpostOptions {
  /** Pino options, or false; tests pass a stream to capture the log. */
  logger?: FastifyServerOptions['logger']
}

export async function buildApp(options: BuildOptions = {}): Promise<FastifyInstance> {
  const { logger, ...pluginOptions } = options
  const { store: _store, serveWeb: _serveWeb, ...overrides } = pluginOptions
  const config = resolveConfig(overrides)
  // Errors before routing are counted too, once the plugin has decorated the metrics.
  const countError = (code: ErrorCode): void => app.metrics?.errors.inc({ code })
  const app: FastifyInstance = Fastify({
    logger: loggerOptions(config, logger),
    // sigpost writes its own one line per request (edge/logging.ts, LOG_REQUESTS).
    logController: new LogController({ disableRequestLogging: true }),
    // A request must arrive whole in time (slow headers, a body a byte now and then); idle keep-alive
    // connections close. A stream or long-poll is a GET received whole at once: these never cut it.
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    clientErrorHandler: makeClientErrorHandler(countError),
    frameworkErrors: makeFrameworkErrors(countError, config.logRequests !== 'none'),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    ...tlsOptions(config),
  }).withTypeProvider<TypeBoxTypeProvider>()
  // `Expect: 100-continue` with a body already known to be too large: no `100 Continue`, the 413 at once.
  app.server.on('checkContinue', continueWithin(app.server, config.bodyLimitBytes))
  // fastify-plugin: the standalone service keeps its decorators (store, hub, metrics...) and handlers
  // on the root instance, as tests and main.ts expect.
  await app.register(fp(sigpost, { name: 'sigpost' }), { serveWeb: true, ...pluginOptions })
  return app
}

/**
 * HTTPS with HTTP/2 when a certificate and key are configured, HTTP/1.1 still negotiated through ALPN
 * (curl, old clients, proxies that speak HTTP/1.1 to their upstream). Over HTTP/2 every tab of a site shares
 * one connection, so the browser's six-connections-per-host limit no longer caps the open streams.
 * Typed as `object`: the routes and receivers handle both servers' requests (stream/out/index.ts streamOut), and
 * Fastify's HTTP/2 instance type would only split every type of the app in two.
 */
function tlsOptions(config: Config): object {
  if (!config.tlsCertFile && !config.tlsKeyFile) return {}
  if (!config.tlsCertFile || !config.tlsKeyFile) throw new Error('TLS_CERT_FILE and TLS_KEY_FILE must be set together')
  return {
    http2: true,
    https: {
      allowHTTP1: true, cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile),
      // One connection holds at most this many streams (Node's default is 2^32 − 1: 750 SSE streams were
      // seen on one connection), and a request's header list is bounded as HTTP/1.1's headers are.
      settings: { maxConcurrentStreams: config.http2MaxStreams, maxHeaderListSize: config.http2MaxHeaderListBytes },
    },
    // On Node 20 an HTTP/2 server's close() waits for every session to end by itself (up to
    // http2SessionTimeout, 72 s): with this, Fastify closes them (GOAWAY, after the streams that preClose ended).
    forceCloseConnections: true,
  }
}
