/**
 * The whole sigpost API as one Fastify plugin: `/v1/*`, `/healthz`, `/readyz`, `/metrics` and `/docs`,
 * and with `serveWeb: true` the demo page and `/rtc-call.js`. Mount it in an existing application with
 * `app.register(sigpost, { prefix: '/signal', ...config })`; buildApp (app.ts) is a thin wrapper that
 * creates the Fastify instance around it. The published `sigpost/fastify` entry point.
 *
 * Encapsulated: its error handler, 404 handler, JSON-only parser, validators, CORS, rate limits and
 * security headers apply to its own routes, never to the application's. A few things are the HTTP
 * server's and so app-wide when mounted (docs/embedding.md, "sigpost/fastify"): the connection
 * limit per address and the header time-out are set on `app.server`; `requestTimeout`,
 * `keepAliveTimeout`, `trustProxy`, the logger and the handling of malformed requests are options of
 * the host's `Fastify({...})`.
 */
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, onRequestHookHandler } from 'fastify'
import cors from '@fastify/cors'
import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit'
import fastifyStatic from '@fastify/static'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Ajv } from 'ajv'
import { authenticate, presentedToken, requestTokenHash } from './auth.js'
import { defaults, resolveConfig, tokenInUrlOn, usesRedis, verifiedNames, type Config } from './config.js'
import { ConnectionLimiter } from './edge/connections.js'
import { DescriptorMonitor } from './edge/descriptors.js'
import { addApiHeaders, addWebRootPolicy, registerSecurityHeaders } from './edge/headers.js'
import { installJsonParser } from './edge/json.js'
import { installRequestLog } from './edge/logging.js'
import { ApiError, installErrorHandlers, type ErrorBody, type ErrorCode } from './errors.js'
import { openApiOptions } from './openapi.js'
import { EVENT_SCHEMAS } from './schemas/events.js'
import { Metrics } from './metrics.js'
import calls from './routes/v1/calls.js'
import events from './routes/v1/events.js'
import iceServers from './routes/v1/ice-servers.js'
import blocks from './routes/v1/blocks.js'
import streamTickets from './routes/v1/stream-tickets.js'
import { JwtVerifier } from './jwt.js'
import { authenticateStream } from './stream-auth.js'
import sessions from './routes/v1/sessions.js'
import operations from './routes/operations.js'
import { MemoryStore } from './store/memory/memory.js'
import { RedisStore } from './store/redis/redis.js'
import { closeRedis, connectRedis, untilReady } from './store/redis/connection.js'
import type { SessionInfo, Store } from './store/types.js'
import { ReceiverHub } from './stream/receivers.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    store: Store
    hub: ReceiverHub
    metrics: Metrics
    /** Open file descriptors against the process's limit (/readyz answers 503 near it). */
    descriptors: DescriptorMonitor
    /** onRequest hook: 401 unless the Authorization header carries a live session's token. */
    requireSession: onRequestHookHandler
    /** The same, also accepting ?token= when TOKEN_IN_URL allows it (the long-poll endpoint). */
    requireSessionOrQueryToken: onRequestHookHandler
    /** The SSE endpoint's: the header, a stream ticket (?ticket=), or ?token= when TOKEN_IN_URL allows it. */
    requireStreamSession: onRequestHookHandler
    /** Verified names (AUTH_JWKS_URL / AUTH_JWT_SECRET); undefined in open mode. */
    jwt: JwtVerifier | undefined
    /** Route rate-limit config for sends: per session, falling back to per IP. */
    sendRateLimit: RateLimitOptions
    /** The same for authenticated reads (directory, call state, ICE servers, streams), with its own budget. */
    readRateLimit: RateLimitOptions
  }
  interface FastifyRequest {
    /** The sender: the holder of the presented token (set by requireSession). */
    session: SessionInfo
    /** The presented token's hash, once computed (auth.ts requestTokenHash). */
    tokenHash: { token: string; hash: string } | null
  }
}

export interface SigpostOptions extends Partial<Config> {
  /** A store other than the in-memory default (or Redis with `redisUrl`). */
  store?: Store
  /** Also serve the demo page and `/rtc-call.js` from `webRoot` (default false; buildApp: true). */
  serveWeb?: boolean
}

/** This file is server/plugin.ts in the repository, dist/server/plugin.js in the package. */
const here = dirname(fileURLToPath(import.meta.url))
const packageRoot = here.endsWith(join('dist', 'server')) ? join(here, '..', '..') : join(here, '..')

const sigpost: FastifyPluginAsync<SigpostOptions> = async (instance, options) => {
  // Fastify's own register options arrive here too: keep only sigpost's. (`logLevel` is both Fastify's,
  // the level of this plugin's logger, and sigpost's LOG_LEVEL: the same meaning, kept.)
  const { store: givenStore, serveWeb = false, prefix: _prefix, logSerializers: _logSerializers, ...overrides } = options as SigpostOptions & Record<string, unknown>
  const config = resolveConfig(overrides as Partial<Config>)
  const app = instance.withTypeProvider<TypeBoxTypeProvider>()
  // Bodies are validated without type coercion ("a field of the wrong type is invalid_body"); query
  // strings are text by nature, so they are coerced (wait=5).
  app.setSchemaErrorFormatter((errors, dataVar) => new Error(`${dataVar}${errors[0]?.instancePath ?? ''} ${errors[0]?.message ?? 'is invalid'}`))
  // BODY_LIMIT_BYTES for sigpost's routes, whatever the host application's own bodyLimit.
  app.addHook('onRoute', (route) => {
    route.bodyLimit ??= config.bodyLimitBytes
  })
  configureServer(app, config)

  // The API speaks JSON only: anything else is 415 unsupported_media_type, not a string body.
  app.removeContentTypeParser('text/plain')
  installJsonParser(app, config.jsonMaxDepth)

  const ajvBody = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, strict: false, verbose: true })
  const ajvQuery = new Ajv({ coerceTypes: true, useDefaults: true, removeAdditional: false, allErrors: false, strict: false, verbose: true })
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? ajvBody : ajvQuery).compile(schema))

  const store = givenStore ?? (usesRedis(config) ? await openRedisStore(config) : new MemoryStore(config))
  const metrics = new Metrics(store)
  const hub = new ReceiverHub(config.heartbeatMs, metrics, app.log)
  hub.logStreams = config.logRequests === 'all'
  const descriptors = new DescriptorMonitor(config.fdWarnPercent, config.fdCheckIntervalMs, app.log)
  app.decorate('config', config)
  app.decorate('descriptors', descriptors)
  app.decorate('store', store)
  app.decorate('metrics', metrics)
  app.decorate('hub', hub)
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
  // Keyed by the token's hash, so it works before authentication and never keeps the token itself.
  const perSession = (request: FastifyRequest) => {
    const token = presentedToken(request, true)
    return token ? `s:${requestTokenHash(request, token)}` : `ip:${request.ip}`
  }
  app.decorate('sendRateLimit', { max: config.rateSendPerWindow, timeWindow: config.rateWindowMs, keyGenerator: perSession })
  app.decorate('readRateLimit', { max: config.rateReadPerWindow, timeWindow: config.rateWindowMs, keyGenerator: perSession })

  const countError = (code: ErrorCode) => metrics.errors.inc({ code })
  installErrorHandlers(app, countError)
  installRequestLog(app, config.logRequests)
  new ConnectionLimiter(config.maxConnectionsPerIp, config.trustProxy, app.log).attach(app.server)
  app.addHook('onListen', async () => descriptors.start())
  app.addHook('onClose', async () => descriptors.stop())
  app.addHook('preClose', async () => hub.shutdown())
  app.addHook('onClose', async () => store.close())

  await app.register(cors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : '*',
    methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Last-Event-ID', 'Idempotency-Key'],
    exposedHeaders: ['Retry-After'],
    maxAge: 600,
    // An OPTIONS without the preflight headers gets the same 204, never a plain-text 400.
    strictPreflight: false,
  })
  // With Redis, the counts are shared too: a limit holds across instances, wherever requests land.
  const rateRedis = usesRedis(config) ? connectRedis(config, 'rate-limit') : undefined
  if (rateRedis) {
    app.addHook('onClose', async () => closeRedis(rateRedis))
    // Until it is connected the limiter would let every request through (skipOnError).
    await untilReady(rateRedis).catch(() => {})
  }
  await app.register(rateLimit, {
    global: false,
    ...(rateRedis ? { redis: rateRedis, nameSpace: `${config.redisPrefix}rl:`, skipOnError: true } : {}),
    errorResponseBuilder: (_request, context) => {
      const error = new ApiError('rate_limited', `Too many requests; retry in ${Math.ceil(context.ttl / 1000)} s.`, {
        'Retry-After': String(Math.ceil(context.ttl / 1000)),
      })
      return error as unknown as ErrorBody
    },
  })
  await app.register(swagger, openApiOptions(config))
  // The event schemas by $id: the stream's and the poll's responses refer to them, /docs/json names them.
  for (const schema of EVENT_SCHEMAS) app.addSchema(schema)

  // The API's own header policy (edge/headers.ts): nosniff on answers with a body, not helmet's set.
  await app.register(async (v1) => {
    addApiHeaders(v1)
    await v1.register(sessions)
    await v1.register(events)
    await v1.register(calls)
    await v1.register(iceServers)
    await v1.register(streamTickets)
    await v1.register(blocks)
  }, { prefix: '/v1' })

  // Pages, scripts, /docs and the operations endpoints: helmet's set, in a context of their own.
  await app.register(async (pages) => {
    await registerSecurityHeaders(pages)
    await pages.register(swaggerUi, { routePrefix: '/docs' })
    await pages.register(operations)
    // A WEB_ROOT of one's own is relative to the working directory; the default one is this package's own
    // web/dist (so `npx sigpost`, or the plugin with serveWeb, finds the bundle wherever it is installed).
    const webRoot = config.webRoot === defaults.webRoot ? join(packageRoot, defaults.webRoot) : resolve(config.webRoot)
    if (!serveWeb) {
      // The API only.
    } else if (existsSync(webRoot)) {
      await pages.register(async (web) => {
        addWebRootPolicy(web, webRoot)
        await web.register(fastifyStatic, { root: webRoot, prefix: '/', index: 'index.html' })
      })
    } else {
      pages.log.warn({ webRoot: config.webRoot }, 'web assets not built (npm run build); / is not served')
    }
  })
}

export default sigpost

async function openRedisStore(config: Config): Promise<Store> {
  const store = new RedisStore(config)
  try {
    await store.ready()
  } catch (error) {
    await store.close()
    const where = config.redisSentinels.length > 0 ? `the primary "${config.redisSentinelName}" through REDIS_SENTINELS` : 'REDIS_URL'
    throw new Error(`cannot reach Redis at ${where}: ${(error as Error).message}`)
  }
  return store
}

/**
 * Time-outs that Fastify's options do not reach: the header time-out, and how often Node looks for
 * requests past their time-outs (30 s by default: a 30 s request time-out would then fire anywhere
 * between 30 and 60 s). Set on the server object, so they hold for HTTP and HTTPS alike; Node reads
 * the interval when the server starts listening.
 */
function configureServer(app: FastifyInstance, config: Config): void {
  const server = app.server as FastifyInstance['server'] & { headersTimeout?: number; connectionsCheckingInterval?: number }
  if (!('headersTimeout' in server)) return
  server.headersTimeout = config.headersTimeoutMs
  server.connectionsCheckingInterval = config.connectionsCheckIntervalMs
}
