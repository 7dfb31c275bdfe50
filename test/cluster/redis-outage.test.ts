/**
 * Redis goes away and comes back: clear 503s meanwhile (never a silent loss), then service again. And a
 * Redis that answers with an error (not an outage): a clear refusal, and the server goes on.
 */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { Redis } from 'ioredis'
import { startServer } from '../helpers/server.js'
import { startRedis } from '../helpers/redis.js'
import { until } from '../helpers/wait.js'
import { offer, openStream, poll, register, request } from '../helpers/client.js'

t.test('Redis loss: 503 store_unavailable and /readyz says so; recovery when it returns', async (t) => {
  let redis = await startRedis({ durable: true })
  t.teardown(() => redis.stop())
  // No heartbeat during the test: the open stream is only woken by events.
  const { url } = await startServer(t, { redisUrl: redis.url, redisPrefix: `o-${randomUUID()}:`, heartbeatMs: 600_000 })
  t.same((await request(url, 'GET', '/readyz')).body, { status: 'ready' })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const aliceIn = await openStream(url, alice)

  await redis.stop(true)
  const ready = await request(url, 'GET', '/readyz')
  t.same([ready.status, ready.body.error], [503, 'store_unavailable'])
  const send = await bob.post('/v1/calls', { to: 'alice', sdpOffer: offer })
  t.same([send.status, send.body.error], [503, 'store_unavailable'], 'a send is refused, not lost')
  t.match(send.headers.get('retry-after'), /^\d+$/)
  const polled = await poll(bob, 'wait=0')
  t.same([polled.status, polled.body.error], [503, 'store_unavailable'])
  t.equal((await request(url, 'POST', '/v1/sessions', { body: { name: 'carol' } })).status, 503)
  t.equal((await request(url, 'GET', '/healthz')).status, 200, 'alive all along')

  redis = await startRedis({ port: redis.port, dir: redis.dir, durable: true })
  // ioredis reconnects by itself; the service is ready again once it has.
  await until(async () => (await request(url, 'GET', '/readyz')).status === 200, '/readyz 200 after Redis returned', { everyMs: 50 })
  const call = await bob.post('/v1/calls', { to: 'alice', sdpOffer: offer })
  t.equal(call.status, 201, 'sessions survived in a Redis with persistence; sends work again')
  t.same((await aliceIn.next()).data.from, 'bob', 'the stream opened before the outage delivers again')
  aliceIn.close()
})

t.test('a Redis that answers with an error (a key of the wrong type) is 500 internal_error, logged; other requests go on', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const prefix = `e-${randomUUID()}:`
  const { url, log } = await startServer(t, { redisUrl: redis.url, redisPrefix: prefix, captureLog: true })
  const alice = await register(url, 'alice')
  // What an operator's stray command or another program sharing the prefix could leave: the live-names
  // sorted set replaced by a string. Redis then refuses the registration script's ZADD (WRONGTYPE).
  const admin = new Redis(redis.url)
  t.teardown(() => admin.disconnect())
  await admin.set(`${prefix}names`, 'not a sorted set')
  const res = await request(url, 'POST', '/v1/sessions', { body: { name: 'bob' } })
  t.ok(res.status >= 500 && typeof res.body.error === 'string', `refused in the contract's shape: ${res.status} ${res.body.error}`)
  t.same([res.status, res.body.error], [500, 'internal_error'], 'not an outage: no Retry-After that cannot help')
  t.equal(res.headers.get('retry-after'), null)
  t.notMatch(res.body.message, /WRONGTYPE|ZADD|redis/i, 'the message says nothing of the cause')
  t.ok(log.some((line) => /WRONGTYPE/.test(line) && /"level":50/.test(line)), 'the cause is logged as an error')
  t.equal((await alice.get('/v1/ice-servers')).status, 200, 'other requests are still served')
  t.equal((await request(url, 'GET', '/healthz')).status, 200)
})
