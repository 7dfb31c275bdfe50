// The server's verified tests, unchanged, on the Redis store (test/helpers/server.ts reads the variable).
process.env.SIGPOST_TEST_STORE = 'redis'
await import('../server/verified.test.js')
