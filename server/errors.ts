/**
 * Coded errors: every failure mapped to the contract's `{"error": "<code>", "message": "<human sentence>"}`
 * shape, with the status that protocol/errors.ts gives its code (the one table of codes and statuses).
 */
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ERRORS, statusOf, type ErrorBody, type ErrorCode } from '../protocol/errors.js'
import { discardRestBeforeClose } from './edge/body-limit.js'
import { ERROR_HEADERS } from './edge/headers.js'

export type { ErrorBody, ErrorCode }

export class ApiError extends Error {
  readonly statusCode: number
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.statusCode = statusOf(code)
  }
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
  // Never the URL itself in the message: an error body or log line must not echo what the client sent.
  FST_ERR_BAD_URL: ['bad_request', 'The URL is not valid (a bad percent-encoding?).'],
  FST_ERR_MAX_PARAM_LENGTH: ['url_too_long', 'A path parameter of the URL is longer than the server accepts.'],
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
    const code: ErrorCode = typeof own === 'string' && own in ERRORS ? own as ErrorCode
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
  if (where === 'headers') return 'Header'
  return 'Body field'
}

export function errorBody(error: ApiError): ErrorBody {
  return { error: error.code, message: error.message }
}

/**
 * Errors Fastify meets before routing (a bad URL, a path parameter past maxParamLength): the same mapping
 * as every other error. Such a request runs no hooks, so its log line is written here.
 */
export function makeFrameworkErrors(onError: (code: ErrorCode) => void, logLine: boolean): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, request, reply) => {
    const apiError = toApiError(error)
    onError(apiError.code)
    if (logLine) request.log.info({ method: request.method, statusCode: apiError.statusCode, code: apiError.code, remoteAddress: request.ip }, 'request')
    void reply.code(apiError.statusCode).headers(ERROR_HEADERS).send(errorBody(apiError))
  }
}

/**
 * Node's `clientError`: what goes wrong before there is a request (headers too large, a request that did
 * not arrive whole in time, bytes that are not HTTP). Answered in the contract's shape on the raw socket,
 * as Node's own handler would (only while no response has started), then the connection is closed.
 */
export function clientErrorResponse(error: NodeJS.ErrnoException): ApiError {
  if (error.code === 'HPE_HEADER_OVERFLOW') return new ApiError('headers_too_large', 'The request headers are larger than the server accepts.')
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new ApiError('request_timeout', 'The request did not arrive whole in time; send it again.')
  return new ApiError('bad_request', 'The request is not valid HTTP/1.1.')
}

export function makeClientErrorHandler(onError: (code: ErrorCode) => void): (this: FastifyInstance, error: NodeJS.ErrnoException, socket: Duplex) => void {
  // Fastify calls it bound to the instance.
  return function (this: FastifyInstance, error, socket) {
    // A reset connection has nobody to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    const apiError = clientErrorResponse(error)
    onError(apiError.code)
    // Connection-level, not a request: one line per connection would let a slow-loris attacker fill the log.
    this.log.debug({ code: error.code, remoteAddress: (socket as { remoteAddress?: string }).remoteAddress }, 'client error')
    const pending = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage
    if (socket.writable && !pending?.headersSent) {
      const body = JSON.stringify(errorBody(apiError))
      socket.write(`HTTP/1.1 ${apiError.statusCode} ${STATUS_CODES[apiError.statusCode]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
    }
    socket.destroy()
  }
}

export interface ErrorHandling {
  /** Counts each error by its code (the metrics). */
  onError(code: ErrorCode): void
  /** Sees each error answer's status before it is sent (the refusal budget, edge/refusals.ts). */
  onAnswer(request: FastifyRequest, status: number): void
  /** A body refused before it arrived whole is read and discarded for at most this long before the connection closes (edge/body-limit.ts). */
  discardMs: number
}

/** Installs the single error handler and the 404 handler. */
export function installErrorHandlers(app: FastifyInstance, { onError, onAnswer, discardMs }: ErrorHandling): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = toApiError(error)
    onAnswer(request, apiError.statusCode)
    if (apiError.statusCode >= 500) {
      request.log.error({ err: error }, 'request failed')
    }
    if (apiError.code === 'body_too_large') discardRestBeforeClose(request.raw, discardMs)
    onError(apiError.code)
    reply.code(apiError.statusCode).headers(ERROR_HEADERS).headers(apiError.headers).send(errorBody(apiError))
  })
  app.setNotFoundHandler((request, reply) => {
    onError('not_found')
    // The URL is not echoed: an error body never repeats what the client sent (it may hold a secret).
    reply.code(404).headers(ERROR_HEADERS).send(errorBody(new ApiError('not_found', `There is no such ${request.method} endpoint in this API; see /docs.`)))
  })
}
