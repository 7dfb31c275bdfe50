/**
 * The `application/json` body parser with a nesting limit. Deep nesting costs nothing to send and a lot to
 * handle (a 30,000-deep `sdpOffer` once overflowed the stack on the way through validation and the store:
 * a 500), so the raw text is scanned before it is parsed and anything deeper than the limit is
 * `400 invalid_body`. The parse itself stays Fastify's own (secure-json-parse: `__proto__` and
 * `constructor.prototype` are refused).
 */
import type { FastifyInstance } from 'fastify'
import { ApiError } from '../errors.js'

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

/**
 * Whether `text` nests objects/arrays deeper than `max` levels (`{}` is one level). One pass over the
 * characters that skips string contents (a `{` inside a string is not nesting); it does not validate the
 * JSON, the parser after it does.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  // Fewer characters than levels cannot open them all; nor can fewer opening brackets (most bodies, a
  // relayed candidate's among them, have a handful: counted natively, without the scan below).
  if (text.length <= max || !hasMoreThan(text, max)) return false
  let depth = 0
  const length = text.length
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      for (i++; i < length; i++) {
        const d = text.charCodeAt(i)
        if (d === BACKSLASH) i++
        else if (d === QUOTE) break
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--
    }
  }
  return false
}

/** Whether `text` has more than `max` opening brackets (`{` and `[`, strings included: an upper bound). */
function hasMoreThan(text: string, max: number): boolean {
  let count = 0
  for (const open of ['{', '[']) {
    for (let i = text.indexOf(open); i !== -1; i = text.indexOf(open, i + 1)) {
      if (++count > max) return true
    }
  }
  return false
}

/** Replaces Fastify's JSON parser with the same parser behind the nesting check. */
export function installJsonParser(app: FastifyInstance, maxDepth: number): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (nestsDeeperThan(body as string, maxDepth)) {
      done(new ApiError('invalid_body', `The JSON body nests deeper than ${maxDepth} levels.`), undefined)
      return
    }
    parse(request, body as string, done)
  })
}
