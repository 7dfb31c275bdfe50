/**
 * What every other part of sigpost stands on: the config, the store, the receivers' hub, the metrics and
 * the descriptor monitor (decorated, so routes reach them), the one error handler, the request log, the
 * HTTP server's own limits, and the order in which it all shuts down.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { defaults, usesRedis, type Config } from '../config.js'
import { isLoopback } from '../edge/address.js'
import { closeIdleWhileClosing, ConnectionLimiter } from '../edge/connections.js'
import { DescriptorMonitor } from '../edge/descriptors.js'
import { installRequestLog } from '../edge/logging.js'
import { RefusalBudget } from '../edge/refusals.js'
import { installErrorHandlers, type ErrorCode } from '../errors.js'
import { Metrics } from '../metrics.js'
import { MemoryStore } from '../store/memory/memory.js'
import { RedisStore } from '../store/redis/redis.js'
import type { Store } from '../store/types.js'
import { ReceiverHub } from '../stream/hub.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    store: Store
    hub: ReceiverHub
    metrics: Metrics
    /** Open file descriptors against the process's limit (/readyz answers 503 near it). */
    descriptors: DescriptorMonitor
  }
}

export interface CoreOptions {
  config: Config
  /** A store other than the in-memory default (or Redis with `redisUrl`). */
  store?: Store
}

const core: FastifyPluginAsync<CoreOptions> = async (app, { config, store: givenStore }) => {
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

  // First of all hooks: an address past its refusal budget costs nothing more.
  const refusals = new RefusalBudget(config.rateUnauthenticatedPerWindow, config.rateWindowMs)
  refusals.install(app)
  const countError = (code: ErrorCode) => metrics.errors.inc({ code })
  installErrorHandlers(app, {
    onError: countError,
    onAnswer: (request, status) => refusals.noted(request, status),
    // A refused body is discarded for as long as a request may take to arrive (or the default, without a limit).
    discardMs: config.requestTimeoutMs || defaults.requestTimeoutMs,
  })
  installRequestLog(app, config.logRequests, refusals)
  configureServer(app, config)
  new ConnectionLimiter(config.maxConnectionsPerIp, config.trustProxy, app.log).attach(app.server)
  app.addHook('onListen', async () => descriptors.start())
  if (!config.metricsToken) app.addHook('onListen', async () => warnIfMetricsExposed(app))
  app.addHook('onClose', async () => descriptors.stop())
  app.addHook('preClose', async () => {
    closeIdleWhileClosing(app.server)
    await hub.shutdown()
  })
  app.addHook('onClose', async () => store.close())
}

// fastify-plugin: the decorators, handlers and hooks are sigpost's context's own, not a child's.
export default fp(core, { name: 'sigpost-core' })

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

/** `/metrics` without METRICS_TOKEN says how many sessions and calls there are to whoever reaches it. */
function warnIfMetricsExposed(app: FastifyInstance): void {
  const address = app.server.address()
  if (!address || typeof address === 'string' || isLoopback(address.address)) return
  app.log.warn({ address: address.address }, '/metrics is open on a non-loopback address: set METRICS_TOKEN, or listen on loopback (HOST=127.0.0.1) behind a proxy')
}
