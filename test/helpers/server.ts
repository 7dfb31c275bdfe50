/** Starts a real sigpost on a free loopback port for one test, and closes it on teardown. */
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { buildApp, type BuildOptions } from '../../server/app.js'

export interface Started {
  app: FastifyInstance
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string
  /** Every log line written so far (only when `captureLog` was set). */
  log: string[]
}

interface Teardown {
  teardown(fn: () => unknown): void
}

export async function startServer(t: Teardown, overrides: BuildOptions & { captureLog?: boolean } = {}): Promise<Started> {
  const { captureLog, ...options } = overrides
  const log: string[] = []
  const logger = captureLog
    ? { level: 'trace', stream: new Writable({ write(chunk, _enc, done) { log.push(String(chunk)); done() } }) }
    : false
  const app = await buildApp({ logger, ...options })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('server did not bind a TCP port')
  t.teardown(() => app.close())
  return { app, url: `http://127.0.0.1:${address.port}`, log }
}
