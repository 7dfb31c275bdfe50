/**
 * Every error code of the API with the HTTP status it comes with: `{"error": "<code>", "message": "..."}`.
 * The server maps codes to statuses with this table only (server/errors.ts), and /docs/json lists, per
 * route, the codes of this table that the route can answer. Plain values (no TypeBox): the browser
 * bundle may import it.
 */
export const ERRORS = {
  bad_request: { status: 400, description: 'The request is not valid HTTP, or its URL is not (a bad percent-encoding).' },
  invalid_body: { status: 400, description: 'A body field of the wrong type or missing, JSON that does not parse or is nested too deep, calling yourself.' },
  invalid_query: { status: 400, description: 'A bad query parameter (or Last-Event-ID header).' },
  invalid_name: { status: 400, description: 'A name is 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit.' },
  unauthorized: { status: 401, description: 'A missing, unknown or expired session token or stream ticket (or a refused ?token=).' },
  invalid_credentials: { status: 401, description: 'Verified names: no JWT, or one that does not verify.' },
  forbidden: { status: 403, description: 'Not yours to do (accepting as the caller, a name your credentials do not let you call, the directory turned off).' },
  name_not_allowed: { status: 403, description: 'Verified names: the body names another name than the JWT grants.' },
  not_found: { status: 404, description: 'No such endpoint (method and path).' },
  peer_not_found: { status: 404, description: 'No one is registered under that name.' },
  call_not_found: { status: 404, description: 'No such call among yours.' },
  request_timeout: { status: 408, description: 'The request did not arrive whole in time.' },
  name_taken: { status: 409, description: 'Someone else holds the name.' },
  busy: { status: 409, description: 'Either side is already in a call.' },
  invalid_state: { status: 409, description: 'The call is not in a state that allows this (e.g. accepting an active call).' },
  body_too_large: { status: 413, description: 'The body, a session description or a candidate is larger than the server accepts.' },
  url_too_long: { status: 414, description: 'A path parameter is longer than the server accepts.' },
  unsupported_media_type: { status: 415, description: 'A body that is not Content-Type: application/json.' },
  mailbox_full: { status: 429, description: 'The recipient holds too many undelivered events (or your share of them).' },
  candidate_limit: { status: 429, description: 'A call carries at most so many candidates from each side.' },
  rate_limited: { status: 429, description: 'Too many requests, a redial too soon, or too many sessions from one address (see Retry-After).' },
  block_limit: { status: 429, description: 'This session blocks as many names as it may.' },
  headers_too_large: { status: 431, description: 'The request headers are larger than the server accepts.' },
  internal_error: { status: 500, description: 'A fault of the server (logged; no details are given).' },
  store_unavailable: { status: 503, description: 'The shared store (Redis) cannot be reached or did not confirm in time (see Retry-After).' },
  auth_unavailable: { status: 503, description: 'Verified names: the keys that verify credentials cannot be fetched right now.' },
  overloaded: { status: 503, description: 'The server is near its limit of open connections (/readyz).' },
} as const satisfies Record<string, { status: number; description: string }>

export type ErrorCode = keyof typeof ERRORS

/** Every code, in the table's order. */
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[]

/** The HTTP status of an error code. */
export function statusOf(code: ErrorCode): number {
  return ERRORS[code].status
}

/** Every error response's body. */
export interface ErrorBody {
  error: ErrorCode
  message: string
}
