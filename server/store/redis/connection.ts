/**
 * The one place that opens Redis connections: the store's, its pub/sub subscriber's and the rate
 * limiter's all come from here, so a plain REDIS_URL and Sentinel mode behave alike everywhere.
 *
 * With REDIS_SENTINELS, ioredis asks the Sentinels for the current primary of REDIS_SENTINEL_NAME, checks
 * that the server it reached really is a primary (a demoted one is refused and the Sentinels asked
 * again), and after a failover reconnects to the promoted replica.
 *
 * ioredis's `failoverDetector` is left off: a `+switch-master` that arrives while the client is still
 * reconnecting (the old primary died first, as it does on kill -9) aborts that attempt and ends the client
 * for good (ioredis 5.x, SentinelConnector.connect after AbstractConnector.disconnect). A primary cut
 * off rather than killed is left once it answers READONLY (demoted) or its connection breaks; until then
 * REDIS_COMMAND_TIMEOUT_MS bounds each request and `min-replicas-to-write` its writes (docs/operations.md, "No single Redis"). And should any
 * path end a connection that sigpost did not close, it is started again.
 */
import { Redis, type RedisOptions } from 'ioredis'
import type { Config } from '../../config.js'

export type ConnectionRole = 'store' | 'subscriber' | 'rate-limit'

/** Parses `host:port,host:port` (the port defaults to Sentinel's 26379; `[::1]:26379` for IPv6). */
export function parseSentinels(list: string[]): Array<{ host: string; port: number }> {
  return list.map((entry) => {
    const match = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(entry.trim())
    if (!match) throw new Error(`REDIS_SENTINELS: "${entry}" is not host:port`)
    return { host: match[1], port: match[2] ? Number(match[2]) : 26379 }
  })
}

export function connectRedis(config: Config, role: ConnectionRole): Redis {
  const options: RedisOptions = {
    // Fail fast while the primary is away (503 store_unavailable) instead of queueing requests: a request
    // never waits for a failover. A command already sent when the connection broke is not sent again on
    // the next primary either (it may have been applied): it fails, and the client retries with its
    // Idempotency-Key.
    enableOfflineQueue: role === 'subscriber',
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    // A primary that stops answering without closing the connection (a partition) fails requests after
    // this long rather than holding them until the request time-out.
    commandTimeout: role === 'subscriber' ? undefined : config.redisCommandTimeoutMs,
    connectTimeout: Math.max(1_000, config.redisCommandTimeoutMs),
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
    // A primary demoted by a failover while this connection stayed open answers writes with READONLY:
    // reconnect, which in Sentinel mode asks the Sentinels for the current primary (the command fails: 503).
    reconnectOnError: (error: Error) => (/^READONLY/.test(error.message) ? 1 : false),
    lazyConnect: false,
  }
  if (config.redisPassword) options.password = config.redisPassword
  let connection: Redis
  if (config.redisSentinels.length > 0) {
    connection = new Redis({
      ...options,
      sentinels: parseSentinels(config.redisSentinels),
      name: config.redisSentinelName,
      role: 'master',
      ...(config.redisSentinelPassword ? { sentinelPassword: config.redisSentinelPassword } : {}),
      failoverDetector: false,
      sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 100, 1000),
      sentinelCommandTimeout: Math.max(500, Math.min(config.redisCommandTimeoutMs, 2000)),
    })
  } else {
    connection = new Redis(config.redisUrl, options)
  }
  // Connection errors surface as failed requests (503); ioredis reconnects by itself.
  connection.on('error', () => {})
  connection.on('end', () => {
    if (closed.has(connection)) return
    setTimeout(() => {
      if (!closed.has(connection) && connection.status === 'end') connection.connect().catch(() => {})
    }, 1000).unref()
  })
  return connection
}

const closed = new WeakSet<Redis>()

/** Closes a connection for good (one that connectRedis would otherwise start again). */
export function closeRedis(connection: Redis): void {
  closed.add(connection)
  connection.disconnect()
}

/** Resolves once the connection is ready (a start-up check, so a wrong address fails loudly). */
export function untilReady(connection: Redis, timeoutMs = 5000): Promise<void> {
  if (connection.status === 'ready') return Promise.resolve()
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after ${timeoutMs} ms`)), timeoutMs)
    connection.once('ready', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}
