/**
 * Which suites run on which store, declared once: the in-memory store, a real Redis, and a Sentinel-managed
 * primary with a replica confirming every write (test/helpers/server.ts reads SIGPOST_TEST_STORE). One
 * process per store (test/stores/<store>.test.ts) imports its suites, so that they share one start of Node,
 * ts-node and the server's modules (6 s of CPU per process, measured on the 2-core CI machine under load),
 * and one redis-server or one Sentinel set.
 *
 * tap's `exclude` (package.json) keeps the memory suites from also running as files of their own
 * (memory.test.ts checks that it names exactly these); `npx tap test/server/calls.test.ts` still runs one.
 * The memory-only suites that start processes or servers at import (descriptors, openapi, tls) and the
 * fuzz on memory (test/fuzz/api*.test.ts) stay files of their own.
 *
 * One suite on one store: `SIGPOST_TEST_STORE=redis npx tap test/server/calls.test.ts`.
 *
 * Sentinel runs the suites whose writes go through the store's replicated paths (calls, events,
 * idempotency, limits, operations, sessions); the others differ from Redis only in how the client connects.
 */
const SERVER_SUITES = [
  'server/blocks', 'server/calls', 'server/edge', 'server/events', 'server/hostile', 'server/idempotency',
  'server/limits', 'server/operations', 'server/sessions', 'server/tickets', 'server/verified',
] as const

export const STORES = {
  memory: SERVER_SUITES,
  redis: [...SERVER_SUITES, 'fuzz/api'],
  sentinel: ['server/calls', 'server/events', 'server/idempotency', 'server/limits', 'server/operations', 'server/sessions'],
} as const

export type StoreName = keyof typeof STORES

/**
 * Runs every suite of `store` in this process. Each suite's tests are top-level tests of this file (the case
 * count is the same as one file per suite). A store's run takes 2-3 minutes on a loaded 2-core machine,
 * more than tap's 300 s per file allows there; every wait inside is bounded (test/helpers/wait.ts).
 */
export async function runStore(store: StoreName): Promise<void> {
  // memory is the default of test/helpers/server.ts (no variable).
  if (store === 'memory') delete process.env.SIGPOST_TEST_STORE
  else process.env.SIGPOST_TEST_STORE = store
  const { default: t } = await import('tap')
  const suites = STORES[store]
  t.setTimeout(600_000)
  for (const suite of suites) {
    t.comment(`${suite} on ${store}: its tests follow in order`)
    await import(`../${suite}.test.js`)
  }
}
