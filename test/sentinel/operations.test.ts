// The server's operations tests, unchanged, on a Sentinel-managed primary with a replica confirming every write.
process.env.SIGPOST_TEST_STORE = 'sentinel'
await import('../server/operations.test.js')
