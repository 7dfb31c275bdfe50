// The server's sessions tests, unchanged, on a Sentinel-managed primary with a replica confirming every write.
process.env.SIGPOST_TEST_STORE = 'sentinel'
await import('../server/sessions.test.js')
