/**
 * sigpost/fastify's options as a host application writes them: an object typed SigpostOptions, with
 * Fastify's own `prefix` and `logLevel`, is accepted by `app.register(sigpost, options)` as it is (this
 * file is type-checked with the rest of test/ by `npx tsc`), and mounts the API under the prefix.
 */
import Fastify from 'fastify'
import t from 'tap'
import sigpost, { type SigpostOptions } from '../../server/plugin.js'

t.test('options typed SigpostOptions, prefix and logLevel included, register sigpost under the prefix', async (t) => {
  const options = { prefix: '/signal', logLevel: 'warn', graceMs: 30_000, redisUrl: undefined } satisfies SigpostOptions
  const typed: SigpostOptions = options
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(sigpost, typed)
  const health = await app.inject('/signal/healthz')
  t.equal(health.statusCode, 200, 'the API answers under /signal')
  const outside = await app.inject('/healthz')
  t.equal(outside.statusCode, 404, 'and only there')
  const long = await app.inject(`/signal/v1/calls/${'x'.repeat(101)}`)
  // Answered by the router before any of sigpost's handlers: the body is the host's (its frameworkErrors).
  t.equal(long.statusCode, 414, 'a path parameter over 100 characters is 414 there too')
})
