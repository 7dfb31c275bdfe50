import { Type, type Static } from 'typebox'

/** `{"error": "<code>", "message": "<human sentence>"}`: every error response. */
export const ErrorResponse = Type.Object(
  { error: Type.String(), message: Type.String() },
  { $id: 'ErrorResponse', description: 'Every error: a stable code and a sentence saying what to fix.' },
)

export const Name = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
  description: '1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit.',
  // The error mapper answers a name that breaks the grammar with this code instead of invalid_body.
  'x-error-code': 'invalid_name',
})

/** An event id as sent in `id:` lines: a decimal integer, opaque to clients. */
export const EventId = Type.String({ pattern: '^[0-9]{1,16}$', description: 'An event id received earlier.' })

export const IceServer = Type.Object({
  urls: Type.Union([Type.String(), Type.Array(Type.String())]),
  username: Type.Optional(Type.String()),
  credential: Type.Optional(Type.String()),
})
export type IceServer = Static<typeof IceServer>

/** Error responses a route can give, for its `response` schema. */
export function errors(...statuses: number[]): Record<number, typeof ErrorResponse> {
  const out: Record<number, typeof ErrorResponse> = {}
  for (const status of statuses) out[status] = ErrorResponse
  return out
}

export const BearerAuth = [{ bearer: [] as string[] }]

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
