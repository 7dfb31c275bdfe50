/**
 * An application backend's side of verified names, for tests: keys generated in the test, a JWKS served
 * by a real HTTP server on loopback (it counts its fetches and can rotate keys or fail), and JWTs minted
 * with jose as an operator's backend would.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose'

export interface SigningKey {
  kid: string
  alg: 'RS256' | 'ES256' | 'EdDSA'
  privateKey: CryptoKey
  publicJwk: JWK
}

export async function newKey(alg: SigningKey['alg'], kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) })
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return { kid, alg, privateKey, publicJwk }
}

export interface Claims extends JWTPayload {
  sigpost_may_call?: unknown
}

/** A JWT for `sub`, valid for 5 minutes unless the claims say otherwise. */
export async function mint(key: SigningKey, claims: Claims, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iat: now, exp: now + 300, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
    .sign(key.privateKey)
}

/** An HS256 JWT signed with a shared secret. */
export async function mintHs256(secret: string, claims: Claims): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iat: now, exp: now + 300, ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret))
}

export interface JwksServer {
  url: string
  /** GET requests answered so far. */
  fetches: number
  /** The keys published from now on (rotation). */
  publish(keys: SigningKey[]): void
  /** Answer 500 from now on (true), or the keys again (false). */
  fail(failing: boolean): void
  close(): Promise<void>
}

interface Teardown {
  teardown(fn: () => unknown): void
}

export async function startJwks(t: Teardown, keys: SigningKey[]): Promise<JwksServer> {
  let published = keys
  let failing = false
  const state = { fetches: 0 }
  const server = http.createServer((_request, response) => {
    state.fetches++
    if (failing) {
      response.writeHead(500).end('down')
      return
    }
    response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: published.map((k) => k.publicJwk) }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = () => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
  t.teardown(close)
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    get fetches() {
      return state.fetches
    },
    publish: (next) => void (published = next),
    fail: (value) => void (failing = value),
    close,
  }
}
