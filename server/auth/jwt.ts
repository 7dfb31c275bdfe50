/**
 * Verified names (docs/http-api.md "Verified names"): the operator's backend mints a short-lived JWT naming the
 * holder, and sigpost only verifies it, with `jose` (a dependency-free, audited JOSE library that runs on
 * Node and in browsers; `@fastify/jwt` + `get-jwks` would add two packages and a decorator for one call).
 *
 * Algorithms are pinned per key type, never taken from the token alone: HS256 tokens are checked only
 * against AUTH_JWT_SECRET, RS256/ES256/EdDSA only against the JWKS, so a token signed with a public key
 * as an HMAC secret (the "HS/RS confusion") or with `alg: none` never verifies.
 *
 * The JWKS is fetched with our own small cache around jose's `createLocalJWKSet` rather than
 * `createRemoteJWKSet`, because jose starts its cool-down only after a *successful* fetch: with the JWKS
 * unreachable it would fetch again on every registration. Here "at most every 30 s" counts from the last
 * fetch, successful or not, and a registration that needs the JWKS while it cannot be had answers
 * `503 auth_unavailable` (never a guess in the token's favour).
 *
 * Hostile clients, second round (issue 22): a JWT living longer than AUTH_MAX_TOKEN_LIFETIME_S is refused
 * (a leaked 10-year token would be a 10-year name); a secret shorter than 32 bytes or a JWKS fetched over
 * plain HTTP beyond loopback stops the server at start; a JWKS body over AUTH_JWKS_MAX_BYTES is refused;
 * and while a refresh fails, the keys already cached keep verifying: only a token whose kid they do not
 * hold waits for the cool-down.
 */
import { createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import { isLoopback } from '../edge/address.js'
import { ApiError } from '../errors.js'

/** Asymmetric algorithms accepted from the JWKS ('Ed25519' is jose's newer name for EdDSA with that curve). */
const JWKS_ALGORITHMS = ['RS256', 'ES256', 'EdDSA', 'Ed25519']
/** Clock skew allowed on `exp` and `nbf`, in seconds. */
const LEEWAY_S = 30
const JWKS_TIMEOUT_MS = 5_000
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export interface VerifiedIdentity {
  /** The name the JWT grants. */
  name: string
  /** `sigpost_may_call`: names or `prefix*` patterns this identity may call; undefined: anyone. */
  mayCall?: string[]
}

type KeySet = ReturnType<typeof createLocalJWKSet>

/** The JWKS behind AUTH_JWKS_URL: cached, refetched on an unknown kid at most once per cool-down. */
class RemoteKeys {
  private keys: KeySet | undefined
  private fetchedAt = 0
  private lastAttemptAt = Number.NEGATIVE_INFINITY
  private pending: Promise<void> | undefined
  private lastFailed = false
  constructor(
    private readonly url: string,
    private readonly cooldownMs: number,
    private readonly maxBytes: number,
    private readonly maxAgeMs: number,
    private readonly log?: FastifyBaseLogger,
  ) {}

  /**
   * Verifies with the cached keys, refetching when they are missing or lack the token's kid. Keys older
   * than AUTH_JWKS_MAX_AGE_MS are refreshed beside the verification, never instead of it: while the JWKS cannot
   * be had, the cached keys still verify.
   */
  async verify(token: string, options: Parameters<typeof jwtVerify>[2]): Promise<JWTPayload> {
    if (!this.keys) await this.refresh(true)
    else if (Date.now() - this.fetchedAt > this.maxAgeMs) this.refresh(false).catch(() => {})
    try {
      return (await jwtVerify(token, this.keys!, options)).payload
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error
      // An unknown kid: perhaps the keys were rotated. Ask again, unless we asked a moment ago.
      if (!(await this.refresh(false))) throw error
      return (await jwtVerify(token, this.keys!, options)).payload
    }
  }

  /**
   * Fetches the set unless the last attempt is within the cool-down; false when it did not fetch.
   * `needed`: without a usable set there is nothing to fall back to, so a failure is 503.
   */
  private async refresh(needed: boolean): Promise<boolean> {
    if (!this.pending) {
      if (Date.now() - this.lastAttemptAt < this.cooldownMs) {
        if (needed || this.lastFailed) throw unavailable(this.lastAttemptAt + this.cooldownMs - Date.now())
        return false
      }
      this.lastAttemptAt = Date.now()
      this.pending = this.fetchSet().finally(() => (this.pending = undefined))
    }
    try {
      await this.pending
    } catch {
      throw unavailable(this.cooldownMs)
    }
    return true
  }

  private async fetchSet(): Promise<void> {
    try {
      const response = await fetch(this.url, {
        headers: { accept: 'application/json, application/jwk-set+json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(JWKS_TIMEOUT_MS),
      })
      if (response.status !== 200) throw new Error(`JWKS answered ${response.status}`)
      const set = JSON.parse(await readAtMost(response, this.maxBytes)) as JSONWebKeySet
      this.keys = createLocalJWKSet(set)
      this.fetchedAt = Date.now()
      this.lastFailed = false
    } catch (error) {
      this.lastFailed = true
      // The operator must hear of it: every registration that needs the keys answers 503 meanwhile.
      this.log?.warn({ jwksUrl: this.url, reason: (error as Error).message }, 'the JWKS cannot be fetched')
      throw error
    }
  }
}

/** The body of `response` as text; throws past `maxBytes` (declared or received) without reading on. */
async function readAtMost(response: Response, maxBytes: number): Promise<string> {
  const fail = (): never => {
    void response.body?.cancel().catch(() => {})
    throw new Error(`the JWKS is larger than AUTH_JWKS_MAX_BYTES (${maxBytes} bytes)`)
  }
  if (Number(response.headers.get('content-length')) > maxBytes) fail()
  const chunks: Uint8Array[] = []
  let received = 0
  for await (const chunk of response.body ?? []) {
    received += chunk.byteLength
    if (received > maxBytes) fail()
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function unavailable(retryMs: number): ApiError {
  return new ApiError('auth_unavailable', 'The keys that verify credentials cannot be fetched right now; retry shortly.', {
    'Retry-After': String(Math.max(1, Math.ceil(retryMs / 1000))),
  })
}

function invalid(message: string): ApiError {
  return new ApiError('invalid_credentials', message)
}

export class JwtVerifier {
  private readonly remote: RemoteKeys | undefined
  private readonly secret: Uint8Array | undefined

  /** Throws, with what to change, on a secret too short to be one or a JWKS fetched in the clear. */
  constructor(private readonly config: Config, log?: FastifyBaseLogger) {
    checkAuthSettings(config)
    this.remote = config.authJwksUrl ? new RemoteKeys(config.authJwksUrl, config.authJwksCooldownMs, config.authJwksMaxBytes, config.authJwksMaxAgeMs, log) : undefined
    this.secret = config.authJwtSecret ? new TextEncoder().encode(config.authJwtSecret) : undefined
  }

  /** The identity a JWT grants; throws invalid_credentials (401) or auth_unavailable (503). */
  async verify(token: string | undefined): Promise<VerifiedIdentity> {
    if (!token) throw invalid('Registering needs Authorization: Bearer <JWT> from the application that embeds sigpost.')
    let alg: unknown
    try {
      alg = decodeProtectedHeader(token).alg
    } catch {
      throw invalid('The credentials are not a JWT.')
    }
    const options = {
      issuer: this.config.authIssuer || undefined,
      audience: this.config.authAudience || undefined,
      clockTolerance: LEEWAY_S,
      requiredClaims: ['exp'],
    }
    let payload: JWTPayload
    try {
      if (alg === 'HS256' && this.secret) {
        payload = (await jwtVerify(token, this.secret, { ...options, algorithms: ['HS256'] })).payload
      } else if (typeof alg === 'string' && JWKS_ALGORITHMS.includes(alg) && this.remote) {
        payload = await this.remote.verify(token, { ...options, algorithms: JWKS_ALGORITHMS })
      } else {
        throw invalid(`JWTs signed with ${typeof alg === 'string' ? alg : 'no algorithm'} are not accepted here.`)
      }
    } catch (error) {
      if (error instanceof ApiError) throw error
      throw invalid(describe(error))
    }
    this.checkLifetime(payload)
    return this.identity(payload)
  }

  /** `exp` − `iat` (or − now, with the clock skew allowed, when there is no `iat`) within AUTH_MAX_TOKEN_LIFETIME_S. */
  private checkLifetime(payload: JWTPayload): void {
    const max = this.config.authMaxTokenLifetimeS
    if (max <= 0 || payload.exp === undefined) return
    const lifetime = typeof payload.iat === 'number' ? payload.exp - payload.iat : payload.exp - Date.now() / 1000 - LEEWAY_S
    if (lifetime > max) throw invalid(`The JWT lives longer than this server accepts (${max} s from iat to exp); mint short-lived ones.`)
  }

  private identity(payload: JWTPayload): VerifiedIdentity {
    const name = payload[this.config.authNameClaim]
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw invalid(`The JWT's "${this.config.authNameClaim}" claim is not a sigpost name (1-64 characters of A-Z a-z 0-9 . _ -).`)
    }
    const mayCall = payload.sigpost_may_call
    if (mayCall === undefined) return { name }
    if (!Array.isArray(mayCall) || !mayCall.every((entry) => typeof entry === 'string' && entry.length > 0 && entry.length <= 65) || mayCall.length > 1000) {
      throw invalid('The JWT\'s "sigpost_may_call" claim must be an array of names or prefixes ending in "*".')
    }
    return { name, mayCall }
  }
}

function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The JWT has expired; get a fresh one.'
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'The JWT is not valid yet.'
    if (error.claim === 'iss') return 'The JWT was issued by someone this server does not trust.'
    if (error.claim === 'aud') return 'The JWT is meant for another audience.'
    if (error.claim === 'exp') return 'The JWT has no expiry (exp); mint short-lived ones.'
    return `The JWT's "${error.claim}" claim is not acceptable.`
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'No key of this server signed the JWT (unknown kid).'
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'The JWT\'s signature does not verify.'
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'The JWT\'s algorithm is not accepted here.'
  return 'The credentials are not a valid JWT.'
}

/** Whether `to` is allowed by a `sigpost_may_call` list (names, or prefixes ending in `*`). */
export function mayCall(list: string[] | undefined, to: string): boolean {
  if (!list) return true
  return list.some((entry) => (entry.endsWith('*') ? to.startsWith(entry.slice(0, -1)) : entry === to))
}

/** HS256 secrets shorter than this are guessable offline from any one token (RFC 7518: at least the hash size). */
const MIN_SECRET_BYTES = 32

/** Verified-name settings that would make names forgeable: refused at start, saying what to change. */
export function checkAuthSettings(config: Config): void {
  if (config.authJwtSecret && Buffer.byteLength(config.authJwtSecret) < MIN_SECRET_BYTES) {
    throw new Error(`AUTH_JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes (it is ${Buffer.byteLength(config.authJwtSecret)}): a short secret can be guessed from any one token; generate one with \`openssl rand -base64 48\``)
  }
  if (config.authJwksUrl) {
    let url: URL
    try {
      url = new URL(config.authJwksUrl)
    } catch {
      throw new Error('AUTH_JWKS_URL is not a URL')
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname.replace(/^\[(.*)\]$/, '$1')))) {
      throw new Error(`AUTH_JWKS_URL must be an https: URL (http: only on loopback), got ${url.protocol}//${url.host}: keys fetched in the clear can be replaced on the way`)
    }
  }
}
