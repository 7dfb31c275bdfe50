// The same generated traffic with verified names (HS256 JWTs from a shared secret): still never a 5xx.
process.env.SIGPOST_FUZZ_VERIFIED = '1'
// Half the open-mode runs: the verified paths add little new beyond registration, and CI time is shared.
process.env.FUZZ_RUNS ??= '50'
await import('./api.test.js')
