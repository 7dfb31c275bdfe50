// The server's tickets tests, unchanged, on the Redis store (test/helpers/server.ts reads the variable).
process.env.SIGPOST_TEST_STORE = 'redis'
await import('../server/tickets.test.js')
