import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ApiError } from '../errors.js'
import { errors } from '../schemas/common.js'

const Status = Type.Object({ status: Type.String() })

const operations: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', { schema: { summary: 'Liveness', response: { 200: Status } } }, async () => ({ status: 'ok' }))

  app.get('/readyz', { schema: { summary: 'Readiness: the store is reachable', response: { 200: Status, ...errors(503) } } }, async () => {
    try {
      await app.store.ping()
    } catch {
      throw new ApiError('store_unavailable', 'The store cannot be reached.')
    }
    return { status: 'ready' }
  })

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_request, reply) => {
    reply.type(app.metrics.registry.contentType)
    return app.metrics.registry.metrics()
  })
}

export default operations
