/**
 * Every setting of the server, with its unit, in one `defaults` object.
 * `configFromEnv()` reads the environment variables listed in ENV; docs/operations.md's table is this file.
 */

export interface Config {
  /** TCP port to listen on (main.ts only). */
  port: number
  /** Interface to bind (main.ts only). */
  host: string
  /** How long a session outlives its last stream, in ms (also: time to attach the first one). */
  graceMs: number
  /** Interval of SSE heartbeat comments, in ms; also sent to clients in the register response. */
  heartbeatMs: number
  /** SSE `retry:` hint sent to EventSource, in ms. */
  sseRetryMs: number
  /** A call that is not answered within this time ends with `no_answer`, in ms. */
  ringTimeoutMs: number
  /** How long an ended call can still be read with GET (and DELETEd idempotently), in ms. */
  endedCallRetentionMs: number
  /** Undelivered events one recipient may hold before senders get 429 mailbox_full. */
  mailboxMaxEvents: number
  /** Bytes of undelivered event data one recipient may hold before 429 mailbox_full. */
  mailboxMaxBytes: number
  /** Delivered events kept for replay (until acknowledged by a later resume or poll), at most this many... */
  replayMaxEvents: number
  /** ...at most this many bytes of event data... */
  replayMaxBytes: number
  /** ...and for at most this long, in ms (also enforced while nothing new arrives). */
  replayMaxAgeMs: number
  /** Largest session description (sdpOffer, sdpAnswer, description) as serialised JSON, in bytes (413 body_too_large). */
  maxDescriptionBytes: number
  /** Largest candidate object as serialised JSON, in bytes (413 body_too_large). */
  maxCandidateBytes: number
  /** Most candidates one side may send in one call (429 candidate_limit). */
  maxCandidatesPerCall: number
  /** Live sessions one client address may hold (429 rate_limited beyond). */
  maxSessionsPerIp: number
  /** A stream connection with more than this many bytes waiting unread in its socket is closed, in bytes. */
  streamMaxUnreadBytes: number
  /** Default and maximum long-poll wait, in seconds. */
  pollDefaultWaitS: number
  pollMaxWaitS: number
  /** Largest request body, in bytes (413 body_too_large above it). */
  bodyLimitBytes: number
  /** Most candidates in one `{"candidates": [...]}` body. */
  maxCandidatesPerRequest: number
  /** Registrations per client IP per rate window (429 rate_limited). */
  rateRegisterPerWindow: number
  /** Sends (calls, answers, candidates, sdp, hang-ups) per session per rate window. */
  rateSendPerWindow: number
  /** Authenticated reads (directory, call state, ICE servers, streams, polls) per session per rate window, per route. */
  rateReadPerWindow: number
  /** Directory pages (GET /v1/sessions) per session per rate window. */
  rateDirectoryPerWindow: number
  /** Length of the rate-limit window, in ms. */
  rateWindowMs: number
  /**
   * Reverse proxies (addresses or CIDRs) whose X-Forwarded-For is believed, so that per-IP limits and logs
   * see the user's address; empty: none (a client must not choose its own rate-limit key).
   */
  trustProxy: string[]
  /** Allowed CORS origins; empty means any origin. */
  corsOrigins: string[]
  /** STUN URLs handed to clients. */
  stunUrls: string[]
  /** TURN URLs handed to clients (with credentials) when turnSecret is set. */
  turnUrls: string[]
  /** coturn's `static-auth-secret`; empty disables TURN entries. */
  turnSecret: string
  /** Lifetime of TURN credentials, in seconds. */
  turnTtlS: number
  /** Log level for pino (`silent` turns logging off). */
  logLevel: string
  /** Redis URL (redis://host:port/db); empty: the in-memory store. */
  redisUrl: string
  /** Prefix of every Redis key and channel (several deployments can share one Redis). */
  redisPrefix: string
  /**
   * Redis Sentinels (`host:port` each): when set, every Redis connection (store, pub/sub, rate limits)
   * asks them for the current primary of `redisSentinelName` and follows its failovers; redisUrl is unused.
   */
  redisSentinels: string[]
  /** The primary's name in the Sentinels' configuration (`sentinel monitor <name> ...`). */
  redisSentinelName: string
  /** Password of the Redis primary and replicas (AUTH); empty: none (or the one in redisUrl). */
  redisPassword: string
  /** Password of the Sentinels themselves; empty: none. */
  redisSentinelPassword: string
  /**
   * Replicas that must confirm a write (Redis WAIT) before a request answers 2xx; 0: acknowledged once the
   * primary has it (asynchronous replication: a failover can lose the last writes).
   */
  redisMinReplicas: number
  /** How long WAIT waits for those replicas before the request answers 503 store_unavailable, in ms. */
  redisWaitTimeoutMs: number
  /** A Redis command that gets no reply within this time fails (503), so no request hangs on a lost primary, in ms. */
  redisCommandTimeoutMs: number
  /** How long the result of a request sent with an Idempotency-Key is kept for its retries, in ms. */
  idempotencyTtlMs: number
  /** With Redis: how often each instance looks for due timers (ring time-outs, grace expiry), in ms. */
  timerPollMs: number
  /** Folder of the built web assets served at `/` (index.html, rtc-call.js). */
  webRoot: string
  /**
   * PEM certificate (chain) file: with tlsKeyFile, the server speaks HTTPS with HTTP/2 (HTTP/1.1 still
   * offered through ALPN); empty: plain HTTP/1.1.
   */
  tlsCertFile: string
  /** PEM private key file of tlsCertFile. */
  tlsKeyFile: string
  /**
   * Verified names (API.md "Verified names"): a JWKS URL (RS256/ES256/EdDSA keys) and/or an HS256 secret;
   * either turns verified mode on. Empty: open mode (any free name, first come).
   */
  authJwksUrl: string
  authJwtSecret: string
  /** Checked against the JWT's `iss` / `aud` when set. */
  authIssuer: string
  authAudience: string
  /** The claim that holds the name. */
  authNameClaim: string
  /** An unknown `kid` refetches the JWKS at most this often, counted from the last fetch (ms). */
  authJwksCooldownMs: number
  /** `on` | `off`; empty: on in open mode, off with verified names. */
  directory: Switch
  /** `?token=` on the stream endpoints: `on` | `off`; empty: on in open mode, off with verified names. */
  tokenInUrl: Switch
  /** Lifetime of a stream ticket (POST /v1/stream-tickets), in seconds. */
  streamTicketTtlS: number
  /** After a call to a name was rejected or unanswered, the caller may not call that name again for this long (ms). */
  redialCooldownMs: number
  /** Most names one session may block (429 block_limit beyond). */
  maxBlocksPerSession: number
  /** A request (headers and body) must arrive whole within this, in ms (stream responses are not cut). */
  requestTimeoutMs: number
  /** Its headers within this, in ms (at most requestTimeoutMs). */
  headersTimeoutMs: number
  /** An idle keep-alive connection is closed after this, in ms. */
  keepAliveTimeoutMs: number
  /** How often Node looks for requests past those time-outs, in ms (a slow body lives at most the sum). */
  connectionsCheckIntervalMs: number
  /** Open connections one client address may hold; 0: no limit. Addresses in trustProxy are exempt. */
  maxConnectionsPerIp: number
  /** Open file descriptors, in percent of the soft limit, at which the server warns and /readyz answers 503. */
  fdWarnPercent: number
  /** How often open file descriptors are counted, in ms (0: never). */
  fdCheckIntervalMs: number
  /** Deepest nesting of a JSON body (400 invalid_body beyond it). */
  jsonMaxDepth: number
  /** One log line per request: `errors` (responses >= 400), `all`, or `none`. */
  logRequests: 'errors' | 'all' | 'none'
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken: string
}

/** An on/off setting; '' means "the mode's default" (see directoryOn, tokenInUrlOn). */
export type Switch = '' | 'on' | 'off'

export const defaults: Config = {
  port: 8080,
  host: '0.0.0.0',
  graceMs: 30_000,
  heartbeatMs: 15_000,
  sseRetryMs: 2_000,
  ringTimeoutMs: 30_000,
  endedCallRetentionMs: 60_000,
  mailboxMaxEvents: 256,
  mailboxMaxBytes: 1024 * 1024,
  replayMaxEvents: 256,
  replayMaxBytes: 1024 * 1024,
  replayMaxAgeMs: 120_000,
  maxDescriptionBytes: 32 * 1024,
  maxCandidateBytes: 2 * 1024,
  maxCandidatesPerCall: 500,
  maxSessionsPerIp: 1000,
  streamMaxUnreadBytes: 1024 * 1024,
  pollDefaultWaitS: 25,
  pollMaxWaitS: 60,
  bodyLimitBytes: 64 * 1024,
  maxCandidatesPerRequest: 100,
  rateRegisterPerWindow: 300,
  rateSendPerWindow: 1200,
  rateReadPerWindow: 1200,
  rateDirectoryPerWindow: 60,
  rateWindowMs: 60_000,
  trustProxy: [],
  corsOrigins: [],
  stunUrls: [],
  turnUrls: [],
  turnSecret: '',
  turnTtlS: 24 * 3600,
  logLevel: 'info',
  redisUrl: '',
  redisPrefix: 'sigpost:',
  redisSentinels: [],
  redisSentinelName: 'mymaster',
  redisPassword: '',
  redisSentinelPassword: '',
  redisMinReplicas: 0,
  redisWaitTimeoutMs: 1_000,
  redisCommandTimeoutMs: 5_000,
  idempotencyTtlMs: 300_000,
  timerPollMs: 200,
  webRoot: 'web/dist',
  tlsCertFile: '',
  tlsKeyFile: '',
  authJwksUrl: '',
  authJwtSecret: '',
  authIssuer: '',
  authAudience: '',
  authNameClaim: 'sub',
  authJwksCooldownMs: 30_000,
  directory: '',
  tokenInUrl: '',
  streamTicketTtlS: 60,
  redialCooldownMs: 15_000,
  maxBlocksPerSession: 1000,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 75_000,
  connectionsCheckIntervalMs: 5_000,
  maxConnectionsPerIp: 1024,
  fdWarnPercent: 90,
  fdCheckIntervalMs: 2_000,
  jsonMaxDepth: 32,
  logRequests: 'errors',
  metricsToken: '',
}

type Kind = 'int' | 'string' | 'list' | 'switch'

/** Environment variable → config key, and how to parse it. */
export const ENV: Record<string, [keyof Config, Kind]> = {
  PORT: ['port', 'int'],
  HOST: ['host', 'string'],
  GRACE_MS: ['graceMs', 'int'],
  HEARTBEAT_MS: ['heartbeatMs', 'int'],
  SSE_RETRY_MS: ['sseRetryMs', 'int'],
  RING_TIMEOUT_MS: ['ringTimeoutMs', 'int'],
  ENDED_CALL_RETENTION_MS: ['endedCallRetentionMs', 'int'],
  MAILBOX_MAX_EVENTS: ['mailboxMaxEvents', 'int'],
  MAILBOX_MAX_BYTES: ['mailboxMaxBytes', 'int'],
  REPLAY_MAX_EVENTS: ['replayMaxEvents', 'int'],
  REPLAY_MAX_BYTES: ['replayMaxBytes', 'int'],
  REPLAY_MAX_AGE_MS: ['replayMaxAgeMs', 'int'],
  MAX_DESCRIPTION_BYTES: ['maxDescriptionBytes', 'int'],
  MAX_CANDIDATE_BYTES: ['maxCandidateBytes', 'int'],
  MAX_CANDIDATES_PER_CALL: ['maxCandidatesPerCall', 'int'],
  MAX_SESSIONS_PER_IP: ['maxSessionsPerIp', 'int'],
  STREAM_MAX_UNREAD_BYTES: ['streamMaxUnreadBytes', 'int'],
  POLL_DEFAULT_WAIT_S: ['pollDefaultWaitS', 'int'],
  POLL_MAX_WAIT_S: ['pollMaxWaitS', 'int'],
  BODY_LIMIT_BYTES: ['bodyLimitBytes', 'int'],
  MAX_CANDIDATES_PER_REQUEST: ['maxCandidatesPerRequest', 'int'],
  RATE_REGISTER_PER_WINDOW: ['rateRegisterPerWindow', 'int'],
  RATE_SEND_PER_WINDOW: ['rateSendPerWindow', 'int'],
  RATE_READ_PER_WINDOW: ['rateReadPerWindow', 'int'],
  RATE_DIRECTORY_PER_WINDOW: ['rateDirectoryPerWindow', 'int'],
  RATE_WINDOW_MS: ['rateWindowMs', 'int'],
  TRUST_PROXY: ['trustProxy', 'list'],
  CORS_ORIGINS: ['corsOrigins', 'list'],
  STUN_URLS: ['stunUrls', 'list'],
  TURN_URLS: ['turnUrls', 'list'],
  TURN_SECRET: ['turnSecret', 'string'],
  TURN_TTL_S: ['turnTtlS', 'int'],
  LOG_LEVEL: ['logLevel', 'string'],
  REDIS_URL: ['redisUrl', 'string'],
  REDIS_PREFIX: ['redisPrefix', 'string'],
  REDIS_SENTINELS: ['redisSentinels', 'list'],
  REDIS_SENTINEL_NAME: ['redisSentinelName', 'string'],
  REDIS_PASSWORD: ['redisPassword', 'string'],
  REDIS_SENTINEL_PASSWORD: ['redisSentinelPassword', 'string'],
  REDIS_MIN_REPLICAS: ['redisMinReplicas', 'int'],
  REDIS_WAIT_TIMEOUT_MS: ['redisWaitTimeoutMs', 'int'],
  REDIS_COMMAND_TIMEOUT_MS: ['redisCommandTimeoutMs', 'int'],
  IDEMPOTENCY_TTL_MS: ['idempotencyTtlMs', 'int'],
  TIMER_POLL_MS: ['timerPollMs', 'int'],
  WEB_ROOT: ['webRoot', 'string'],
  TLS_CERT_FILE: ['tlsCertFile', 'string'],
  TLS_KEY_FILE: ['tlsKeyFile', 'string'],
  AUTH_JWKS_URL: ['authJwksUrl', 'string'],
  AUTH_JWT_SECRET: ['authJwtSecret', 'string'],
  AUTH_ISSUER: ['authIssuer', 'string'],
  AUTH_AUDIENCE: ['authAudience', 'string'],
  AUTH_NAME_CLAIM: ['authNameClaim', 'string'],
  AUTH_JWKS_COOLDOWN_MS: ['authJwksCooldownMs', 'int'],
  DIRECTORY: ['directory', 'switch'],
  TOKEN_IN_URL: ['tokenInUrl', 'switch'],
  STREAM_TICKET_TTL_S: ['streamTicketTtlS', 'int'],
  REDIAL_COOLDOWN_MS: ['redialCooldownMs', 'int'],
  MAX_BLOCKS_PER_SESSION: ['maxBlocksPerSession', 'int'],
  REQUEST_TIMEOUT_MS: ['requestTimeoutMs', 'int'],
  HEADERS_TIMEOUT_MS: ['headersTimeoutMs', 'int'],
  KEEP_ALIVE_TIMEOUT_MS: ['keepAliveTimeoutMs', 'int'],
  CONNECTIONS_CHECK_INTERVAL_MS: ['connectionsCheckIntervalMs', 'int'],
  MAX_CONNECTIONS_PER_IP: ['maxConnectionsPerIp', 'int'],
  FD_WARN_PERCENT: ['fdWarnPercent', 'int'],
  FD_CHECK_INTERVAL_MS: ['fdCheckIntervalMs', 'int'],
  JSON_MAX_DEPTH: ['jsonMaxDepth', 'int'],
  LOG_REQUESTS: ['logRequests', 'string'],
  METRICS_TOKEN: ['metricsToken', 'string'],
}

/** Builds a config from defaults, then the environment; throws on a value that does not parse. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const config: Config = { ...defaults }
  for (const [variable, [key, kind]] of Object.entries(ENV)) {
    const raw = env[variable]
    if (raw === undefined || raw === '') continue
    ;(config as unknown as Record<string, unknown>)[key] = parseValue(variable, raw, kind)
  }
  return config
}

function parseValue(variable: string, raw: string, kind: Kind): number | string | string[] {
  if (kind === 'string') return raw
  if (kind === 'list') return raw.split(',').map((s) => s.trim()).filter(Boolean)
  if (kind === 'switch') {
    const value = raw.trim().toLowerCase()
    if (['on', 'true', '1', 'yes'].includes(value)) return 'on'
    if (['off', 'false', '0', 'no'].includes(value)) return 'off'
    throw new Error(`${variable} must be on or off (true or false), got "${raw}"`)
  }
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${variable} must be a whole number >= 0, got "${raw}"`)
  }
  return value
}

/** True when sessions live in Redis (a plain URL, or Sentinels that name the primary). */
export function usesRedis(config: Config): boolean {
  return config.redisUrl !== '' || config.redisSentinels.length > 0
}

/** Names are verified (a JWT from the operator's backend) rather than first come, first served. */
export function verifiedNames(config: Config): boolean {
  return config.authJwksUrl !== '' || config.authJwtSecret !== ''
}

/** GET /v1/sessions answers: on by default in open mode, off with verified names. */
export function directoryOn(config: Config): boolean {
  return config.directory === '' ? !verifiedNames(config) : config.directory === 'on'
}

/** The stream endpoints accept `?token=`: on by default in open mode, off with verified names. */
export function tokenInUrlOn(config: Config): boolean {
  return config.tokenInUrl === '' ? !verifiedNames(config) : config.tokenInUrl === 'on'
}

const LOG_REQUESTS = ['errors', 'all', 'none']

/**
 * Merges partial options over the defaults (what buildApp and tests use); throws on a value out of range.
 * An option given as `undefined` means its default (`redisUrl: process.env.REDIS_URL` with the variable
 * unset is the in-memory store, not an empty URL to dial).
 */
export function resolveConfig(options: Partial<Config> = {}): Config {
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<Config>
  const config = { ...defaults, ...given }
  if (!LOG_REQUESTS.includes(config.logRequests)) {
    throw new Error(`LOG_REQUESTS must be one of ${LOG_REQUESTS.join(', ')}, got "${config.logRequests}"`)
  }
  if (config.requestTimeoutMs > 0 && config.headersTimeoutMs > config.requestTimeoutMs) {
    throw new Error('HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS')
  }
  return config
}
