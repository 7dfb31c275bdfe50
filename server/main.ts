/** CLI entry: environment → config → listen, and a graceful shutdown on SIGTERM/SIGINT. */
import { buildApp } from './app.js'
import { configFromEnv } from './config.js'

const config = configFromEnv()
const app = await buildApp(config)

let closing = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down')
    // Streams are ended on preClose, so this returns promptly even with clients attached.
    app.close().then(() => process.exit(0), (error: unknown) => {
      app.log.error({ err: error }, 'shutdown failed')
      process.exit(1)
    })
  })
}

await app.listen({ port: config.port, host: config.host })
