/**
 * Pages, scripts, /docs and the operations endpoints, in a context of their own with helmet's security
 * headers (the API's routes keep their own policy); with `serveWeb`, the demo page and `/rtc-call.js`.
 */
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import fastifyStatic from '@fastify/static'
import swaggerUi from '@fastify/swagger-ui'
import { defaults, type Config } from '../config.js'
import { addWebRootPolicy, registerSecurityHeaders } from '../edge/headers.js'
import operations from '../routes/operations.js'
import { docsPageOptions } from './docs.js'

/** This file is server/plugins/web.ts in the repository, dist/server/plugins/web.js in the package. */
const here = dirname(fileURLToPath(import.meta.url))
const packageRoot = here.endsWith(join('dist', 'server', 'plugins')) ? join(here, '..', '..', '..') : join(here, '..', '..')

export interface WebOptions {
  config: Config
  /** Also serve the demo page and `/rtc-call.js` from `webRoot`. */
  serveWeb: boolean
}

const web: FastifyPluginAsync<WebOptions> = async (pages, { config, serveWeb }) => {
  await registerSecurityHeaders(pages)
  await pages.register(swaggerUi, docsPageOptions)
  await pages.register(operations)
  // A WEB_ROOT of one's own is relative to the working directory; the default one is this package's own
  // web/dist (so `npx sigpost`, or the plugin with serveWeb, finds the bundle wherever it is installed).
  const webRoot = config.webRoot === defaults.webRoot ? join(packageRoot, defaults.webRoot) : resolve(config.webRoot)
  if (!serveWeb) {
    // The API only.
  } else if (existsSync(webRoot)) {
    await pages.register(async (site) => {
      addWebRootPolicy(site, webRoot)
      await site.register(fastifyStatic, { root: webRoot, prefix: '/', index: 'index.html' })
    })
  } else {
    pages.log.warn({ webRoot: config.webRoot }, 'web assets not built (npm run build); / is not served')
  }
}

// Encapsulated (no fastify-plugin): helmet's headers stay in this context.
export default web
