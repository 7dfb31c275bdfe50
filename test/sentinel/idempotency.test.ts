// The server's idempotency tests, unchanged, on a Sentinel-managed primary with a replica confirming every write.
process.env.SIGPOST_TEST_STORE = 'sentinel'
await import('../server/idempotency.test.js')
