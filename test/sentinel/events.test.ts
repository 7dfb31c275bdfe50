// The server's events tests, unchanged, on a Sentinel-managed primary with a replica confirming every write.
process.env.SIGPOST_TEST_STORE = 'sentinel'
await import('../server/events.test.js')
