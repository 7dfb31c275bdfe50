/**
 * Which suites run on which store, declared once. Every suite runs on the memory store as its own file
 * (test/server/*.test.ts, test/fuzz/api.test.ts); the ones named here run again, unchanged, on a real
 * Redis and on a Sentinel-managed primary with a replica confirming every write (test/helpers/server.ts
 * reads SIGPOST_TEST_STORE). One process per store (test/stores/<store>.test.ts) imports its suites, so that
 * they share one redis-server, or one Sentinel set, and one start of Node and the server's modules.
 *
 * Sentinel runs the suites whose writes go through the store's replicated paths (calls, events,
 * idempotency, limits, operations, sessions); the others differ from Redis only in how the client connects.
 */
export const STORES = {
  redis: [
    'server/blocks', 'server/calls', 'server/edge', 'server/events', 'server/hostile', 'server/idempotency',
    'server/limits', 'server/operations', 'server/sessions', 'server/tickets', 'server/verified', 'fuzz/api',
  ],
  sentinel: ['server/calls', 'server/events', 'server/idempotency', 'server/limits', 'server/operations', 'server/sessions'],
} as const

export type StoreName = keyof typeof STORES

/**
 * Runs every suite of `store` in this process. Each suite's tests are top-level tests of this file (the case
 * count is the same as one file per suite); tap's per-file time-out grows with the number of suites.
 */
export async function runStore(store: StoreName): Promise<void> {
  process.env.SIGPOST_TEST_STORE = store
  const { default: t } = await import('tap')
  const suites = STORES[store]
  t.setTimeout(suites.length * 120_000)
  for (const suite of suites) {
    t.comment(`${suite} on ${store}: its tests follow in order`)
    await import(`../${suite}.test.js`)
  }
}
