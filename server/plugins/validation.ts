/**
 * What a request must be before a handler sees it: JSON only (415 otherwise), within BODY_LIMIT_BYTES
 * and JSON_MAX_DEPTH, and valid against its route's schema, with sigpost's error wording.
 */
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { Ajv } from 'ajv'
import type { Config } from '../config.js'
import { installJsonParser } from '../edge/json.js'

const validation: FastifyPluginAsync<{ config: Config }> = async (app, { config }) => {
  // Bodies are validated without type coercion ("a field of the wrong type is invalid_body"); query
  // strings are text by nature, so they are coerced (wait=5).
  app.setSchemaErrorFormatter((errors, dataVar) => new Error(`${dataVar}${errors[0]?.instancePath ?? ''} ${errors[0]?.message ?? 'is invalid'}`))
  // BODY_LIMIT_BYTES for sigpost's routes, whatever the host application's own bodyLimit.
  app.addHook('onRoute', (route) => {
    route.bodyLimit ??= config.bodyLimitBytes
  })

  // The API speaks JSON only: anything else is 415 unsupported_media_type, not a string body.
  app.removeContentTypeParser('text/plain')
  installJsonParser(app, config.jsonMaxDepth)

  const ajvBody = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, strict: false, verbose: true })
  const ajvQuery = new Ajv({ coerceTypes: true, useDefaults: true, removeAdditional: false, allErrors: false, strict: false, verbose: true })
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? ajvBody : ajvQuery).compile(schema))
}

// fastify-plugin: the parser, the validators and the hook hold for all of sigpost's routes.
export default fp(validation, { name: 'sigpost-validation' })
