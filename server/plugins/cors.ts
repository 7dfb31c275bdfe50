/** Cross-origin access to the API: the origins of CORS_ORIGINS (any by default), the headers sigpost reads. */
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import type { Config } from '../config.js'

const crossOrigin: FastifyPluginAsync<{ config: Config }> = async (app, { config }) => {
  await app.register(cors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : '*',
    methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Last-Event-ID', 'Idempotency-Key'],
    exposedHeaders: ['Retry-After'],
    maxAge: 600,
    // An OPTIONS without the preflight headers gets the same 204, never a plain-text 400.
    strictPreflight: false,
  })
}

export default fp(crossOrigin, { name: 'sigpost-cors' })
