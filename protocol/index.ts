/**
 * sigpost's wire format, written once: the event names and error codes (names.ts, errors.ts: plain
 * values) and the TypeBox schemas of every event and payload (schemas.ts). Imported by the server and,
 * as types only where TypeBox would be bundled, by the web code. Never Fastify.
 */
export * from './names.js'
export * from './errors.js'
export * from './schemas.js'
