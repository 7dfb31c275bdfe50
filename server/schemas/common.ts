/** What every route's schema shares: names, ids, ICE servers, security, tags, and the error codes each kind of request can meet. */
import { Type, type Static, type TSchema } from 'typebox'
import { ERRORS, type ErrorCode } from '../../protocol/errors.js'
import { ErrorResponse, EVENT_ID_PATTERN } from '../../protocol/schemas.js'

/** An event id in a query: one received earlier (the cursor a client resumes from). */
export const EventId = Type.String({ pattern: EVENT_ID_PATTERN, description: 'An event id received earlier.' })

export const Name = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
  description: '1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit.',
  // The error mapper answers a name that breaks the grammar with this code instead of invalid_body.
  'x-error-code': 'invalid_name',
})

export const IceServer = Type.Object({
  urls: Type.Union([Type.String(), Type.Array(Type.String())]),
  username: Type.Optional(Type.String()),
  credential: Type.Optional(Type.String()),
})
export type IceServer = Static<typeof IceServer>

/**
 * What any request can meet, whatever its route: bytes that are not HTTP or a URL that does not decode,
 * a request that does not arrive whole in time, headers past the limit, a fault of the server.
 */
const ANY_REQUEST: readonly ErrorCode[] = ['bad_request', 'request_timeout', 'headers_too_large', 'internal_error']
/** A request whose body is parsed (POST, DELETE): JSON only, within the body limit and nesting depth. */
export const WITH_BODY: readonly ErrorCode[] = ['invalid_body', 'body_too_large', 'unsupported_media_type']
/** A request that presents a session token: it may be unknown, and looking it up needs the store. */
export const AUTHENTICATED: readonly ErrorCode[] = ['unauthorized', 'store_unavailable']
/** A route with path parameters: a bad one is invalid_body, one past maxParamLength url_too_long. */
export const WITH_PARAMS: readonly ErrorCode[] = ['invalid_body', 'url_too_long']

/**
 * The error responses of a route, for its `response` schema: `codes` (plus what any request can meet)
 * grouped by the status protocol/errors.ts gives each, every status with `error` as an enum of its codes.
 */
export function errors(...codes: ReadonlyArray<ErrorCode | readonly ErrorCode[]>): Record<number, TSchema> {
  const byStatus = new Map<number, ErrorCode[]>()
  for (const code of new Set([...ANY_REQUEST, ...codes.flat()])) {
    const status = ERRORS[code].status
    byStatus.set(status, [...(byStatus.get(status) ?? []), code])
  }
  const out: Record<number, TSchema> = {}
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const sorted = list.sort()
    out[status] = Type.Object(ErrorResponse(sorted).properties, {
      description: sorted.map((code) => `\`${code}\`: ${ERRORS[code].description}`).join(' '),
    })
  }
  return out
}

export const BearerAuth = [{ bearer: [] as string[] }]

/** OpenAPI tags, one per resource. */
export const Tags = {
  sessions: ['sessions'],
  events: ['events'],
  calls: ['calls'],
  blocks: ['blocks'],
  iceServers: ['ice-servers'],
  operations: ['operations'],
}

/**
 * The optional `Idempotency-Key` request header of every send (the IETF httpapi draft's header): a retry
 * of a request with the same key, session, method, path and body gets the first attempt's answer and
 * stores nothing again. 1-255 visible ASCII characters; a UUID per send is the usual choice.
 */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    minLength: 1,
    maxLength: 255,
    pattern: '^[\\x21-\\x7e]+$',
    description: 'A client-chosen id of this send (e.g. a UUID), the same on every retry of it.',
  })),
})
