// The server's edge tests, unchanged, on the Redis store (test/helpers/server.ts reads the variable).
process.env.SIGPOST_TEST_STORE = 'redis'
await import('../server/edge.test.js')
