/**
 * The whole sigpost API as one Fastify plugin: `/v1/*`, `/healthz`, `/readyz`, `/metrics` and `/docs`,
 * and with `serveWeb: true` the demo page and `/rtc-call.js`. Mount it in an existing application with
 * `app.register(sigpost, { prefix: '/signal', ...config })`; buildApp (app.ts) is a thin wrapper that
 * creates the Fastify instance around it. The published `sigpost/fastify` entry point.
 *
 * Encapsulated: its error handler, 404 handler, JSON-only parser, validators, CORS, rate limits and
 * security headers apply to its own routes, never to the application's. A few things are the HTTP
 * server's and so app-wide when mounted (docs/embedding.md, "sigpost/fastify"): the connection
 * limit per address and the header time-out are set on `app.server`; `requestTimeout`,
 * `keepAliveTimeout`, `trustProxy`, the logger and the handling of malformed requests are options of
 * the host's `Fastify({...})`.
 *
 * Each concern is a plugin of plugins/, registered in this order: the hooks run in it.
 */
import type { FastifyPluginAsync } from 'fastify'
import { resolveConfig, type Config } from './config.js'
import auth from './plugins/auth.js'
import core from './plugins/core.js'
import cors from './plugins/cors.js'
import openApi from './plugins/docs.js'
import rateLimits from './plugins/rate-limit.js'
import validation from './plugins/validation.js'
import web from './plugins/web.js'
import v1 from './routes/v1/index.js'
import type { Store } from './store/types.js'

export interface SigpostOptions extends Partial<Config> {
  /** A store other than the in-memory default (or Redis with `redisUrl`). */
  store?: Store
  /** Also serve the demo page and `/rtc-call.js` from `webRoot` (default false; buildApp: true). */
  serveWeb?: boolean
  /** Fastify's own register option, named here so that options typed SigpostOptions can carry it: the path the API is mounted under (`/signal` → `/signal/v1/...`). */
  prefix?: string
}

const sigpost: FastifyPluginAsync<SigpostOptions> = async (app, options) => {
  // Fastify's own register options arrive here too: keep only sigpost's. (`logLevel` is both Fastify's,
  // the level of this plugin's logger, and sigpost's LOG_LEVEL: the same meaning, kept.)
  const { store, serveWeb = false, prefix: _prefix, logSerializers: _logSerializers, ...overrides } = options as SigpostOptions & Record<string, unknown>
  const config = resolveConfig(overrides as Partial<Config>)
  await app.register(validation, { config })
  await app.register(core, { config, store })
  await app.register(auth, { config })
  await app.register(cors, { config })
  await app.register(rateLimits, { config })
  await app.register(openApi, { config })
  await app.register(v1, { prefix: '/v1' })
  await app.register(web, { config, serveWeb })
}

export default sigpost
