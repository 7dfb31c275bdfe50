/**
 * The app's close() with a shared store: it returns with a stream and a long-poll still open (preClose ends
 * them), and afterwards no connection of sigpost's is left on any Redis server or Sentinel it used (CLIENT
 * LIST, compared with before it started).
 */
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import type { BuildOptions } from '../../server/app.js'
import { openStream, poll, register } from '../helpers/client.js'
import { startRedis } from '../helpers/redis.js'
import { startSentinelGroup } from '../helpers/sentinel.js'
import { startServer } from '../helpers/server.js'
import { until, within } from '../helpers/wait.js'

const PROBE = 'close-test-probe'

/**
 * The connections on the server at `port` that are nobody's but sigpost's: unnamed (sentinels name theirs),
 * not a replication link (flags S or M), not this probe.
 */
async function sigpostConnections(port: number): Promise<string[]> {
  const probe = new Redis({ port, host: '127.0.0.1', connectionName: PROBE, lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await probe.connect()
    const list = (await probe.client('LIST')) as string
    return list.split('\n').filter((line) => {
      const fields = Object.fromEntries(line.split(' ').map((field) => field.split('=', 2)))
      return line && !fields.name && !/[SM]/.test(fields.flags ?? '')
    }).map((line) => line.replace(/ (id|age|idle|qbuf|qbuf-free|argv-mem|multi-mem|obl|oll|omem|tot-mem|events|resp|lib-name|lib-ver|rbs|rbp|io-thread|tot-net-in|tot-net-out|tot-cmds)=\S*/g, ''))
  } finally {
    probe.disconnect()
  }
}

/** Closes the app with an SSE stream and a long-poll open; then no connection of its is left on `ports`. */
async function closesCleanly(t: Test, ports: number[], options: BuildOptions): Promise<void> {
  const before = await Promise.all(ports.map(sigpostConnections))
  t.same(before.flat(), [], 'nothing of sigpost on the servers before it starts')
  const { app, url } = await startServer(t, { ...options, redisPrefix: `close-${randomUUID()}:` })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const stream = await openStream(url, alice)
  const waiting = poll(bob, 'wait=25')
  await until(async () => (await app.store.stats()).streams.poll === 1, 'the long-poll to be waiting')
  t.ok((await Promise.all(ports.map(sigpostConnections))).flat().length >= 2, "sigpost's connections are there while it runs")

  await within(app.close(), 'app.close() with a stream and a long-poll open', 30_000)
  await within(stream.ended, 'the stream to be ended by the close')
  t.equal((await within(waiting, 'the long-poll to be answered by the close')).status, 200, 'the long-poll is answered')
  await until(async () => (await Promise.all(ports.map(sigpostConnections))).flat().length === 0, 'every connection of sigpost to be closed', { timeoutMs: 10_000, everyMs: 50 })
  t.same((await Promise.all(ports.map(sigpostConnections))).flat(), [], 'no connection of sigpost is left')
}

t.test('close() with the Redis store', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  await closesCleanly(t, [redis.port], { redisUrl: redis.url })
})

t.test('close() with the Sentinel-managed store', async (t) => {
  const group = await startSentinelGroup(t)
  const sentinelPorts = group.sentinels.split(',').map((entry) => Number(entry.split(':').pop()))
  await closesCleanly(t, [...group.servers.keys(), ...sentinelPorts], {
    redisSentinels: group.sentinels.split(','),
    redisSentinelName: group.name,
    redisMinReplicas: 1,
  })
})
