/**
 * PeerJS's own server (the `peer` npm package), started programmatically as its bin would, on the bench's
 * port. Limits lifted for the stream-count phase: concurrent_limit (default 5000) → 1,000,000.
 * Everything else is PeerJS's default (alive_timeout 90 s: bench clients send HEARTBEAT every 25 s).
 */
import { PeerServer } from 'peer'

PeerServer({ port: Number(process.env.PORT ?? 9000), host: process.env.HOST ?? '127.0.0.1', path: '/', concurrent_limit: 1_000_000 })
