/**
 * Bearer tokens: 256 random bits, handed out once, kept by the server only as a SHA-256 hash.
 * A request is looked up by the hash of the token it presents, so the server never holds or compares
 * the secret itself, and the comparison of hashes reveals nothing about the token (the same constant-time
 * property as comparing the secrets with timingSafeEqual, without a scan over all sessions).
 */
import { hash, randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { ApiError } from '../errors.js'
import type { SessionInfo, Store } from '../store/types.js'

export function newToken(): string {
  return randomBytes(32).toString('base64url')
}

export function hashToken(token: string): string {
  // One-shot hash: no Hash object per request (it showed in the profile of the send path).
  return hash('sha256', token, 'base64url')
}

/**
 * hashToken for a request's token, once per request (the rate limiter and authentication both need it).
 * Kept on the request itself (a decorated field: a WeakMap showed in the profile of the send path).
 */
export function requestTokenHash(request: FastifyRequest, token: string): string {
  const known = request.tokenHash
  if (known?.token === token) return known.hash
  const hash = hashToken(token)
  request.tokenHash = { token, hash }
  return hash
}

/** The bearer token of a request: the Authorization header, or `?token=` where a stream allows it. */
export function presentedToken(request: FastifyRequest, allowQuery: boolean): string | undefined {
  const header = request.headers.authorization
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    return match?.[1]
  }
  if (allowQuery) {
    const token = (request.query as { token?: unknown } | undefined)?.token
    if (typeof token === 'string' && token !== '') return token
  }
  return undefined
}

export async function authenticate(store: Store, request: FastifyRequest, allowQuery: boolean): Promise<SessionInfo> {
  const token = presentedToken(request, allowQuery)
  if (!token) {
    throw new ApiError('unauthorized', allowQuery
      ? 'Send your token as Authorization: Bearer <token> or ?token=<token>.'
      : 'Send your token as Authorization: Bearer <token>.')
  }
  const session = await store.findSession(requestTokenHash(request, token))
  if (!session) throw new ApiError('unauthorized', 'The token is unknown or its session has ended; register again.')
  return session
}
