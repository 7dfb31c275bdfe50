/**
 * Pages, scripts, /docs and the operations endpoints, in a context of their own with helmet's security
 * headers (the API's routes keep their own policy); with `serveWeb`, the demo page and `/rtc-call.js`.
 */
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { errorCodes, type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify'
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
      site.addHook('onRequest', async (request) => {
        if (missedRouteByLongParam(site, request)) throw new errorCodes.FST_ERR_MAX_PARAM_LENGTH(request.url)
      })
      // Source maps carry the element's sources: only served when the operator asks (SERVE_SOURCE_MAPS).
      const maps = config.serveSourceMaps === 'on'
      await site.register(fastifyStatic, { root: webRoot, prefix: '/', index: 'index.html', allowedPath: (path) => maps || !path.endsWith('.map') })
    })
  } else {
    pages.log.warn({ webRoot: config.webRoot }, 'web assets not built (npm run build); / is not served')
  }
}

// Encapsulated (no fastify-plugin): helmet's headers stay in this context.
export default web

/**
 * Whether a request came to the site's `/*` only because a path parameter of an API route was longer
 * than maxParamLength: find-my-way then falls back to the wildcard instead of calling its
 * onMaxParamLength (as it does when no wildcard is there), and `GET /v1/calls/<101 characters>` would be a
 * missing file, 404, where the API promises 414 url_too_long. Checked by looking the path up again with
 * each over-long segment shortened: an API route (no `*` parameter) then matches.
 */
function missedRouteByLongParam(app: FastifyInstance, request: FastifyRequest): boolean {
  const { routerOptions, maxParamLength: topLevel } = app.initialConfig
  const max = routerOptions?.maxParamLength ?? topLevel ?? 100
  const path = request.url.split('?', 1)[0]
  const segments = path.split('/')
  let long = false
  const shortened = segments.map((segment) => {
    if (segment.length <= max || decodedLength(segment) <= max) return segment
    long = true
    return 'x'
  })
  if (!long) return false
  const route = app.findRoute({ method: request.method as 'GET', url: shortened.join('/') })
  return route !== null && !('*' in (route.params as Record<string, string>))
}

function decodedLength(segment: string): number {
  try {
    return decodeURIComponent(segment).length
  } catch {
    return segment.length
  }
}
