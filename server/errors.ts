/**
 * Coded errors: the one place that maps a code to its HTTP status, and every failure to the contract's
 * `{"error": "<code>", "message": "<human sentence>"}` shape.
 */
import type { FastifyError, FastifyInstance } from 'fastify'

export const STATUS = {
  invalid_body: 400,
  invalid_query: 400,
  invalid_name: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  peer_not_found: 404,
  call_not_found: 404,
  name_taken: 409,
  busy: 409,
  invalid_state: 409,
  body_too_large: 413,
  unsupported_media_type: 415,
  mailbox_full: 429,
  candidate_limit: 429,
  rate_limited: 429,
  internal_error: 500,
  store_unavailable: 503,
} as const

export type ErrorCode = keyof typeof STATUS

export class ApiError extends Error {
  readonly statusCode: number
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.statusCode = STATUS[code]
  }
}

export interface ErrorBody {
  error: ErrorCode
  message: string
}

const NOT_JSON = 'The request body is not valid JSON.'
const ONLY_JSON = 'Send the body as JSON with Content-Type: application/json.'

/** Fastify's own error codes for a client's mistake, and what they mean in the contract. */
const FASTIFY_CODES: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['body_too_large', 'The request body is larger than the server accepts.'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['unsupported_media_type', ONLY_JSON],
  FST_ERR_CTP_EMPTY_TYPE: ['unsupported_media_type', ONLY_JSON],
  FST_ERR_CTP_INVALID_TYPE: ['unsupported_media_type', ONLY_JSON],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['invalid_body', NOT_JSON],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['invalid_body', NOT_JSON],
  FST_ERR_CTP_INVALID_JSON_BODY: ['invalid_body', NOT_JSON],
}

const GRAMMAR_KEYWORDS = new Set(['pattern', 'minLength', 'maxLength'])

/** Translates anything thrown in a request into a coded error without leaking internals. */
export function toApiError(error: FastifyError | ApiError | Error): ApiError {
  if (error instanceof ApiError) return error
  const fastifyError = error as FastifyError
  if (fastifyError.validation) {
    const where = fastifyError.validationContext
    const first = fastifyError.validation[0] as { keyword?: string; parentSchema?: Record<string, unknown> } | undefined
    // A schema can name its own code for a value of the right type that breaks its grammar (a name).
    const own = first?.keyword && GRAMMAR_KEYWORDS.has(first.keyword) ? first.parentSchema?.['x-error-code'] : undefined
    const code: ErrorCode = typeof own === 'string' && own in STATUS ? own as ErrorCode
      : where === 'querystring' ? 'invalid_query' : 'invalid_body'
    return new ApiError(code, `${describeWhere(where)} ${fastifyError.message.replace(/^(body|querystring|params|headers)\s*/, '')}`)
  }
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined
  if (mapped) return new ApiError(mapped[0], mapped[1])
  // Errors thrown by JSON.parse inside fastify's parser carry a 400 status but no code.
  if (fastifyError.statusCode === 400 && error instanceof SyntaxError) {
    return new ApiError('invalid_body', NOT_JSON)
  }
  if (fastifyError.statusCode === 429) {
    return new ApiError('rate_limited', fastifyError.message)
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new ApiError('invalid_body', fastifyError.message)
  }
  return new ApiError('internal_error', 'Something went wrong on the server; it has been logged.')
}

function describeWhere(where: string | undefined): string {
  if (where === 'querystring') return 'Query parameter'
  if (where === 'params') return 'Path parameter'
  return 'Body field'
}

export function errorBody(error: ApiError): ErrorBody {
  return { error: error.code, message: error.message }
}

/** Installs the single error handler and the 404 handler. */
export function installErrorHandlers(app: FastifyInstance, onError: (code: ErrorCode) => void): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = toApiError(error)
    if (apiError.statusCode >= 500) {
      request.log.error({ err: error }, 'request failed')
    }
    onError(apiError.code)
    reply.code(apiError.statusCode).headers(apiError.headers).send(errorBody(apiError))
  })
  app.setNotFoundHandler((request, reply) => {
    onError('not_found')
    reply.code(404).send(errorBody(new ApiError('not_found', `There is no ${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]} in this API; see /docs.`)))
  })
}
