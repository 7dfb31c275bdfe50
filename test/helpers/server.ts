/** Starts a real sigpost on a free loopback port for one test, and closes it on teardown. */
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { buildApp, type BuildOptions } from '../../server/app.js'
import { startRedis, type RedisServer } from './redis.js'
import { startSentinelGroup, type SentinelGroup } from './sentinel.js'

/**
 * SIGPOST_TEST_STORE=redis runs the same tests on the Redis store: one redis-server per test process,
 * a fresh key prefix per app (test/stores/matrix.ts sets it and imports the suites it names).
 */
let redis: Promise<RedisServer & { dir: string }> | undefined
let startedRedis: (RedisServer & { dir: string }) | undefined
function sharedRedis(): Promise<RedisServer> {
  if (!redis) {
    redis = startRedis()
    void redis.then((r) => (startedRedis = r), () => {})
    // An 'exit' handler runs synchronously: a promise's .then inside it would never run.
    process.once('exit', () => {
      if (!startedRedis) return
      startedRedis.process.kill('SIGKILL')
      rmSync(startedRedis.dir, { recursive: true, force: true })
    })
  }
  return redis
}

/**
 * SIGPOST_TEST_STORE=sentinel: the same on a Sentinel-managed primary with one replica, reached through
 * three sentinels, every acknowledged write confirmed by the replica (REDIS_MIN_REPLICAS=1).
 */
let group: Promise<SentinelGroup> | undefined
function sharedSentinelGroup(): Promise<SentinelGroup> {
  // Killed by PID when the test process exits (the helper registers that).
  // Nothing here kills the primary: a slow down-after keeps a loaded CI machine (a primary or a sentinel
  // not scheduled for a moment) from failing over in the middle of tests that are not about failover.
  group ??= startSentinelGroup(undefined, { downAfterMs: 5000 })
  return group
}

export interface Started {
  app: FastifyInstance
  /** Base URL, e.g. http://127.0.0.1:41234 (https:// with tlsCertFile) */
  url: string
  /** Every log line written so far (only when `captureLog` was set). */
  log: string[]
}

interface Teardown {
  teardown(fn: () => unknown): void
}

export async function startServer(t: Teardown, overrides: BuildOptions & { captureLog?: boolean } = {}): Promise<Started> {
  const { captureLog, ...options } = overrides
  const log: string[] = []
  const logger = captureLog
    ? { level: 'trace', stream: new Writable({ write(chunk, _enc, done) { log.push(String(chunk)); done() } }) }
    : false
  if (process.env.SIGPOST_TEST_STORE === 'redis' && !options.redisUrl && !options.store) {
    options.redisUrl = (await sharedRedis()).url
    options.redisPrefix = `t-${randomUUID()}:`
  }
  if (process.env.SIGPOST_TEST_STORE === 'sentinel' && !options.redisUrl && !options.store) {
    const sentinels = await sharedSentinelGroup()
    options.redisSentinels = sentinels.sentinels.split(',')
    options.redisSentinelName = sentinels.name
    options.redisMinReplicas ??= 1
    options.redisPrefix = `t-${randomUUID()}:`
  }
  const app = await buildApp({ logger, ...options })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('server did not bind a TCP port')
  t.teardown(() => app.close())
  return { app, url: `${options.tlsCertFile ? 'https' : 'http'}://127.0.0.1:${address.port}`, log }
}
