/** The operations endpoints: /healthz (alive), /readyz (store reachable, descriptors below the limit), /metrics (Prometheus). */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { onRequestHookHandler } from 'fastify'
import { Type } from 'typebox'
import { ApiError } from '../errors.js'
import { errors, Tags } from '../schemas/common.js'

const Status = Type.Object({ status: Type.String() })

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest()

/**
 * METRICS_TOKEN: `Authorization: Bearer <token>` for /metrics. The digests are compared, not the strings:
 * equal lengths for timingSafeEqual, and the time taken says nothing about the token.
 */
function requireMetricsToken(token: string): onRequestHookHandler {
  const expected = sha256(token)
  return async (request) => {
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1] ?? ''
    if (!timingSafeEqual(sha256(presented), expected)) {
      throw new ApiError('unauthorized', 'Send the metrics token as Authorization: Bearer <METRICS_TOKEN>.')
    }
  }
}

const operations: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', { schema: { summary: 'Liveness', operationId: 'liveness', tags: Tags.operations, security: [], response: { 200: Status, ...errors() } } }, async () => ({ status: 'ok' }))

  app.get('/readyz', { schema: { summary: 'Readiness: the store is reachable and file descriptors are not nearly exhausted', operationId: 'readiness', tags: Tags.operations, security: [], response: { 200: Status, ...errors('overloaded', 'store_unavailable') } } }, async () => {
    if (app.descriptors.nearLimit) {
      throw new ApiError('overloaded', 'The server is near its limit of open connections; send new clients elsewhere.')
    }
    try {
      await app.store.ping()
    } catch {
      throw new ApiError('store_unavailable', 'The store cannot be reached.')
    }
    return { status: 'ready' }
  })

  app.get('/metrics', {
    schema: {
      summary: 'Prometheus metrics', operationId: 'metrics', tags: Tags.operations,
      // METRICS_TOKEN is a bearer of its own, not a session's.
      security: app.config.metricsToken ? [{ metricsToken: [] }] : [],
      response: {
        200: { description: 'The Prometheus text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } },
        ...(app.config.metricsToken ? errors('unauthorized') : errors()),
      },
    },
    ...(app.config.metricsToken ? { onRequest: requireMetricsToken(app.config.metricsToken) } : {}),
  }, async (_request, reply) => {
    reply.type(app.metrics.registry.contentType)
    return app.metrics.registry.metrics()
  })
}

export default operations
