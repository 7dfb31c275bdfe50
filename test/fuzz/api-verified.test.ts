// The same generated traffic with verified names (HS256 JWTs from a shared secret): still never a 5xx.
process.env.SIGPOST_FUZZ_VERIFIED = '1'
await import('./api.test.js')
