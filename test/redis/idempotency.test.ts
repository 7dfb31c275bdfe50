// The server's idempotency tests, unchanged, on the Redis store (test/helpers/server.ts reads the variable).
process.env.SIGPOST_TEST_STORE = 'redis'
await import('../server/idempotency.test.js')
