// The Store contract (contract.ts) run in-process on the in-memory store and on the Redis store against a
// real redis-server (stopped by PID), each store with a fresh key prefix.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { resolveConfig } from '../../server/config.js'
import { MemoryStore } from '../../server/store/memory/memory.js'
import { RedisStore } from '../../server/store/redis/redis.js'
import { startRedis } from '../helpers/redis.js'
import { storeContract } from './contract.js'

t.test('memory', async (t) => {
  storeContract(t, async (settings) => new MemoryStore(resolveConfig(settings)))
})

t.test('redis', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  storeContract(t, async (settings) => {
    const store = new RedisStore(resolveConfig({ ...settings, redisUrl: redis.url, redisPrefix: `c-${randomUUID()}:` }))
    await store.ready()
    return store
  }, {
    statsWithoutEndedCalls: 'the Redis store counts the {p}calls set (ringing and active) only; an ended call is a key expiring by PEXPIRE',
  })
})
