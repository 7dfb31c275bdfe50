// The same generated traffic on the Redis store (test/helpers/server.ts reads the variable).
process.env.SIGPOST_TEST_STORE = 'redis'
await import('./api.test.js')
