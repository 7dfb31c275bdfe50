// Run inside a fresh project that installed the packed tarball: an application of its own with sigpost
// mounted under /signal. Prints its URL, then serves until killed.
import Fastify from 'fastify'
import sigpost from 'sigpost/fastify'

const app = Fastify()
app.get('/', async () => ({ app: 'mine' }))
await app.register(sigpost, { prefix: '/signal', graceMs: 60_000, metricsToken: 'metrics-secret-for-the-test' })
await app.listen({ port: 0, host: '127.0.0.1' })
console.log(`http://127.0.0.1:${app.server.address().port}`)
