/**
 * Idempotency-Key: the store a send runs against. With the header, the store's writes are remembered
 * under a scope made of the sender, the request (method, path, body) and the key, so a client that
 * retries after a 503 (a failover, replicas that did not confirm in time) gets the first attempt's
 * answer when that attempt was stored, and a fresh attempt when it was not: never the event twice.
 * The same key with another body is another request.
 */
import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { Store } from './store/types.js'

export function storeFor(store: Store, request: FastifyRequest): Store {
  const key = request.headers['idempotency-key']
  if (typeof key !== 'string') return store
  const scope = createHash('sha256')
    .update([request.session.name, request.method, request.url, key, JSON.stringify(request.body ?? null)].join('\0'))
    .digest('base64url')
  return store.withIdempotencyKey(scope)
}
