/**
 * Every setting of the server written once, in SETTINGS: its name (the option, in camelCase), its
 * environment variable, how that is read, its default, its unit and its description. The Config type,
 * `defaults`, configFromEnv() and docs/operations.md's table (scripts/config-table.ts) all come from it.
 */
import type { LogLevel } from 'fastify'

/** How an environment variable's text is read. */
type Kind = 'int' | 'string' | 'list' | 'switch'

/** An on/off setting; '' means "the mode's default" (see directoryOn, tokenInUrlOn). */
export type Switch = '' | 'on' | 'off'

/** The value each kind reads to. */
interface KindValue {
  int: number
  string: string
  list: string[]
  switch: Switch
}

export interface Setting {
  /** The environment variable that sets it (configFromEnv). */
  env: string
  kind: Kind
  /** The only values a `string` setting takes (its type; LOG_REQUESTS is checked by resolveConfig, LOG_LEVEL by pino). */
  values?: readonly string[]
  default: KindValue[Kind]
  /** What a number counts, when the name does not say it already. */
  unit?: 'ms' | 's' | 'bytes' | '%'
  /** What the docs show for an empty default ('' or []); "(none)" unless said. */
  shown?: string
  /** The description in docs/operations.md's table (markdown). */
  doc: string
}

/** pino's levels, as Fastify types them (a plugin's `logLevel` register option is the same setting). */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LogLevel[]

/** Every setting, in the order of the docs table. */
export const SETTINGS = {
  port: { env: 'PORT', kind: 'int', default: 8080,
    doc: 'TCP port to listen on' },
  host: { env: 'HOST', kind: 'string', default: '0.0.0.0',
    doc: 'interface to bind' },
  graceMs: { env: 'GRACE_MS', kind: 'int', default: 30_000, unit: 'ms',
    doc: 'a session outlives its last stream by this long (keeps its name and undelivered events)' },
  heartbeatMs: { env: 'HEARTBEAT_MS', kind: 'int', default: 15_000, unit: 'ms',
    doc: 'interval of SSE `event: heartbeat`s (the first comes 1 s after `ready`); clients treat 2.5 × this without an event as a dead stream' },
  sseRetryMs: { env: 'SSE_RETRY_MS', kind: 'int', default: 2_000, unit: 'ms',
    doc: 'the `retry:` hint sent to EventSource' },
  ringTimeoutMs: { env: 'RING_TIMEOUT_MS', kind: 'int', default: 30_000, unit: 'ms',
    doc: 'an unanswered call ends with `no_answer` after this long' },
  endedCallRetentionMs: { env: 'ENDED_CALL_RETENTION_MS', kind: 'int', default: 60_000, unit: 'ms',
    doc: 'an ended call stays readable (GET, idempotent DELETE) this long' },
  mailboxMaxEvents: { env: 'MAILBOX_MAX_EVENTS', kind: 'int', default: 256,
    doc: 'undelivered events one recipient may hold before senders get `429 mailbox_full`' },
  mailboxMaxBytes: { env: 'MAILBOX_MAX_BYTES', kind: 'int', default: 1024 * 1024, unit: 'bytes',
    doc: 'undelivered bytes of event data one recipient may hold' },
  replayMaxEvents: { env: 'REPLAY_MAX_EVENTS', kind: 'int', default: 256,
    doc: 'delivered events kept for replay until a later resume or poll shows them received' },
  replayMaxBytes: { env: 'REPLAY_MAX_BYTES', kind: 'int', default: 1024 * 1024, unit: 'bytes',
    doc: '... at most this many bytes of them ...' },
  replayMaxAgeMs: { env: 'REPLAY_MAX_AGE_MS', kind: 'int', default: 120_000, unit: 'ms',
    doc: '... and for at most this long (also while nothing new arrives)' },
  maxDescriptionBytes: { env: 'MAX_DESCRIPTION_BYTES', kind: 'int', default: 32 * 1024, unit: 'bytes',
    doc: 'largest `sdpOffer` / `sdpAnswer` / `description` as serialised JSON (`413 body_too_large`)' },
  maxCandidateBytes: { env: 'MAX_CANDIDATE_BYTES', kind: 'int', default: 2 * 1024, unit: 'bytes',
    doc: 'largest candidate object as serialised JSON (`413 body_too_large`)' },
  maxCandidatesPerCall: { env: 'MAX_CANDIDATES_PER_CALL', kind: 'int', default: 500,
    doc: 'candidates each side may send in one call (`429 candidate_limit`)' },
  maxSessionsPerIp: { env: 'MAX_SESSIONS_PER_IP', kind: 'int', default: 1000,
    doc: 'live sessions one client address may hold (`429 rate_limited`)' },
  streamMaxUnreadBytes: { env: 'STREAM_MAX_UNREAD_BYTES', kind: 'int', default: 1024 * 1024, unit: 'bytes',
    doc: 'an event stream with more than this waiting unread in its connection is closed' },
  pollDefaultWaitS: { env: 'POLL_DEFAULT_WAIT_S', kind: 'int', default: 25, unit: 's',
    doc: 'long-poll wait when `wait` is not given' },
  pollMaxWaitS: { env: 'POLL_MAX_WAIT_S', kind: 'int', default: 60, unit: 's',
    doc: 'longer waits count as this' },
  bodyLimitBytes: { env: 'BODY_LIMIT_BYTES', kind: 'int', default: 64 * 1024, unit: 'bytes',
    doc: 'largest request body (`413 body_too_large`)' },
  maxCandidatesPerRequest: { env: 'MAX_CANDIDATES_PER_REQUEST', kind: 'int', default: 100,
    doc: 'most candidates in one `{"candidates": [...]}`' },
  rateRegisterPerWindow: { env: 'RATE_REGISTER_PER_WINDOW', kind: 'int', default: 300,
    doc: 'registrations per client IP per window (`429 rate_limited`)' },
  rateSendPerWindow: { env: 'RATE_SEND_PER_WINDOW', kind: 'int', default: 1200,
    doc: 'sends (call, accept, reject, candidates, sdp, hang-up) per session per window' },
  rateReadPerWindow: { env: 'RATE_READ_PER_WINDOW', kind: 'int', default: 1200,
    doc: 'authenticated reads (call state, ICE servers, streams, polls) per session per window, per route' },
  rateDirectoryPerWindow: { env: 'RATE_DIRECTORY_PER_WINDOW', kind: 'int', default: 60,
    doc: 'directory pages (`GET /v1/sessions`) per session per window' },
  rateUnauthenticatedPerWindow: { env: 'RATE_UNAUTHENTICATED_PER_WINDOW', kind: 'int', default: 600,
    doc: 'refused requests (`401`, `429`) per client address per window; past it, every request of that address is `429 rate_limited` before any other work until the window ends (`0`: no limit)' },
  rateWindowMs: { env: 'RATE_WINDOW_MS', kind: 'int', default: 60_000, unit: 'ms',
    doc: 'the rate-limit window' },
  trustProxy: { env: 'TRUST_PROXY', kind: 'list', default: [],
    doc: 'comma-separated addresses/CIDRs of reverse proxies whose `X-Forwarded-For` is believed (per-IP limits, logs)' },
  corsOrigins: { env: 'CORS_ORIGINS', kind: 'list', default: [], shown: '(any)',
    doc: 'comma-separated allow-list of origins; empty: any origin may call (no credentials)' },
  stunUrls: { env: 'STUN_URLS', kind: 'list', default: [],
    doc: 'comma-separated STUN URLs handed to clients' },
  turnUrls: { env: 'TURN_URLS', kind: 'list', default: [],
    doc: 'comma-separated TURN URLs, handed out with credentials when `TURN_SECRET` is set; in any order: clients get them UDP first, TLS on 443 last (`turn:` UDP, `turn:` `?transport=tcp`, `turns:`, `turns:` on port 443; equal ones keep their order)' },
  turnSecret: { env: 'TURN_SECRET', kind: 'string', default: '',
    doc: 'coturn\'s `static-auth-secret` (TURN REST API credentials)' },
  turnTtlS: { env: 'TURN_TTL_S', kind: 'int', default: 24 * 3600, unit: 's',
    doc: 'lifetime of TURN credentials' },
  logLevel: { env: 'LOG_LEVEL', kind: 'string', values: LOG_LEVELS, default: 'info',
    doc: 'pino level (`silent` turns logs off)' },
  redisUrl: { env: 'REDIS_URL', kind: 'string', default: '',
    doc: '`redis://host:port/db`: share sessions, mailboxes and calls between instances; empty: in memory' },
  redisPrefix: { env: 'REDIS_PREFIX', kind: 'string', default: 'sigpost:',
    doc: 'prefix of every Redis key and channel' },
  redisSentinels: { env: 'REDIS_SENTINELS', kind: 'list', default: [],
    doc: 'comma-separated `host:port` of Redis Sentinels: every Redis connection follows the primary they name (`REDIS_URL` unused)' },
  redisSentinelName: { env: 'REDIS_SENTINEL_NAME', kind: 'string', default: 'mymaster',
    doc: 'the primary\'s name in the Sentinels\' `sentinel monitor` line' },
  redisPassword: { env: 'REDIS_PASSWORD', kind: 'string', default: '',
    doc: 'password of the Redis primary and replicas (with `REDIS_URL`, a password in the URL works too)' },
  redisSentinelPassword: { env: 'REDIS_SENTINEL_PASSWORD', kind: 'string', default: '',
    doc: 'password of the Sentinels themselves' },
  redisMinReplicas: { env: 'REDIS_MIN_REPLICAS', kind: 'int', default: 0,
    doc: 'send p99 | send → arrival p50 | p99 | sigpost CPU / 1,000 msgs | primary CPU / 1,000 msgs | msgs/s' },
  redisWaitTimeoutMs: { env: 'REDIS_WAIT_TIMEOUT_MS', kind: 'int', default: 1_000, unit: 'ms',
    doc: 'how long `WAIT` waits for those replicas' },
  redisCommandTimeoutMs: { env: 'REDIS_COMMAND_TIMEOUT_MS', kind: 'int', default: 5_000, unit: 'ms',
    doc: 'a Redis command without a reply this long fails (`503`): no request hangs on a vanished primary' },
  idempotencyTtlMs: { env: 'IDEMPOTENCY_TTL_MS', kind: 'int', default: 300_000, unit: 'ms',
    doc: 'how long the answer to a send with an `Idempotency-Key` is kept for its retries' },
  timerPollMs: { env: 'TIMER_POLL_MS', kind: 'int', default: 200, unit: 'ms',
    doc: 'with Redis: how often each instance claims due timers (ring time-outs, grace expiry)' },
  webRoot: { env: 'WEB_ROOT', kind: 'string', default: 'web/dist',
    doc: 'folder served at `/` (the built demo page and `rtc-call.js`); the default is the package\'s own `web/dist`, another path is relative to the working directory' },
  tlsCertFile: { env: 'TLS_CERT_FILE', kind: 'string', default: '',
    doc: 'PEM certificate (chain): with `TLS_KEY_FILE`, sigpost speaks HTTPS with HTTP/2 (HTTP/1.1 still offered through ALPN)' },
  tlsKeyFile: { env: 'TLS_KEY_FILE', kind: 'string', default: '',
    doc: 'PEM private key of `TLS_CERT_FILE`' },
  http2MaxStreams: { env: 'HTTP2_MAX_STREAMS', kind: 'int', default: 128,
    doc: 'HTTP/2: concurrent streams one connection may hold (`SETTINGS_MAX_CONCURRENT_STREAMS`; more are refused with `REFUSED_STREAM`)' },
  http2MaxHeaderListBytes: { env: 'HTTP2_MAX_HEADER_LIST_BYTES', kind: 'int', default: 16 * 1024, unit: 'bytes',
    doc: 'HTTP/2: largest header list of a request, uncompressed (`SETTINGS_MAX_HEADER_LIST_SIZE`; as HTTP/1.1\'s 16 KiB headers)' },
  maxProbesPerSession: { env: 'MAX_PROBES_PER_SESSION', kind: 'int', default: 2,
    doc: 'probe streams (`GET /v1/events?probe=1`) one session may hold open at once (`429 rate_limited`)' },
  authJwksUrl: { env: 'AUTH_JWKS_URL', kind: 'string', default: '',
    doc: 'verified names: the JWKS (RS256, ES256, EdDSA keys) of the application that mints JWTs, an `https:` URL (`http:` only on loopback); see [verified names](http-api.md#verified-names)' },
  authJwtSecret: { env: 'AUTH_JWT_SECRET', kind: 'string', default: '',
    doc: 'verified names with HS256: the shared secret, at least 32 bytes (either this or `AUTH_JWKS_URL` turns verified mode on)' },
  authIssuer: { env: 'AUTH_ISSUER', kind: 'string', default: '',
    doc: 'when set, a JWT\'s `iss` must equal it' },
  authAudience: { env: 'AUTH_AUDIENCE', kind: 'string', default: '',
    doc: 'when set, a JWT\'s `aud` must contain it' },
  authNameClaim: { env: 'AUTH_NAME_CLAIM', kind: 'string', default: 'sub',
    doc: 'the JWT claim that holds the name' },
  authJwksCooldownMs: { env: 'AUTH_JWKS_COOLDOWN_MS', kind: 'int', default: 30_000, unit: 'ms',
    doc: 'a JWT with an unknown `kid` refetches the JWKS at most this often, counted from the last fetch' },
  authJwksMaxAgeMs: { env: 'AUTH_JWKS_MAX_AGE_MS', kind: 'int', default: 600_000, unit: 'ms',
    doc: 'cached JWKS keys older than this are refetched (beside verification: while that fails, they keep verifying), so that a key removed from the JWKS stops working' },
  authMaxTokenLifetimeS: { env: 'AUTH_MAX_TOKEN_LIFETIME_S', kind: 'int', default: 3600, unit: 's',
    doc: 'a JWT living longer (`exp` − `iat`, or `exp` − now without `iat`) is `401 invalid_credentials`: mint short-lived ones' },
  authJwksMaxBytes: { env: 'AUTH_JWKS_MAX_BYTES', kind: 'int', default: 1024 * 1024, unit: 'bytes',
    doc: 'a larger JWKS body is refused (the keys already cached keep verifying)' },
  directory: { env: 'DIRECTORY', kind: 'switch', default: '', shown: '(on in open mode, off with verified names)',
    doc: '`on` / `off`: whether `GET /v1/sessions` lists names (`403 forbidden` when off)' },
  tokenInUrl: { env: 'TOKEN_IN_URL', kind: 'switch', default: '', shown: '(on in open mode, off with verified names)',
    doc: '`true` / `false`: whether the stream endpoints accept `?token=` (`401 unauthorized` when off)' },
  streamTicketTtlS: { env: 'STREAM_TICKET_TTL_S', kind: 'int', default: 60, unit: 's',
    doc: 'lifetime of an unused stream ticket (`POST /v1/stream-tickets`)' },
  redialCooldownMs: { env: 'REDIAL_COOLDOWN_MS', kind: 'int', default: 15_000, unit: 'ms',
    doc: 'after a call to a name was rejected or unanswered, the caller cannot call that name again for this long (`429 rate_limited`)' },
  maxBlocksPerSession: { env: 'MAX_BLOCKS_PER_SESSION', kind: 'int', default: 1000,
    doc: 'names one session may block (`429 block_limit` beyond)' },
  requestTimeoutMs: { env: 'REQUEST_TIMEOUT_MS', kind: 'int', default: 30_000, unit: 'ms',
    doc: 'a request (headers and body) must arrive whole within this (`408 request_timeout`); stream and long-poll responses are not cut' },
  headersTimeoutMs: { env: 'HEADERS_TIMEOUT_MS', kind: 'int', default: 10_000, unit: 'ms',
    doc: '... and its headers within this (at most `REQUEST_TIMEOUT_MS`)' },
  keepAliveTimeoutMs: { env: 'KEEP_ALIVE_TIMEOUT_MS', kind: 'int', default: 75_000, unit: 'ms',
    doc: 'an idle keep-alive connection is closed after this' },
  connectionsCheckIntervalMs: { env: 'CONNECTIONS_CHECK_INTERVAL_MS', kind: 'int', default: 5_000, unit: 'ms',
    doc: 'how often Node looks for requests past those time-outs (a slow body lives at most the sum)' },
  maxConnectionsPerIp: { env: 'MAX_CONNECTIONS_PER_IP', kind: 'int', default: 1024,
    doc: 'open connections one client address may hold (`0`: no limit); `TRUST_PROXY` addresses are exempt' },
  fdWarnPercent: { env: 'FD_WARN_PERCENT', kind: 'int', default: 90, unit: '%',
    doc: 'at this share of the soft `ulimit -n`, a warning is logged and `/readyz` answers `503 overloaded`' },
  fdCheckIntervalMs: { env: 'FD_CHECK_INTERVAL_MS', kind: 'int', default: 2_000, unit: 'ms',
    doc: 'how often open file descriptors are counted (`0`: never)' },
  jsonMaxDepth: { env: 'JSON_MAX_DEPTH', kind: 'int', default: 32,
    doc: 'deepest nesting of a JSON body (`400 invalid_body`)' },
  logRequests: { env: 'LOG_REQUESTS', kind: 'string', values: ['errors', 'all', 'none'], default: 'errors',
    doc: 'one log line per request: `errors` (responses >= 400), `all`, or `none`' },
  metricsToken: { env: 'METRICS_TOKEN', kind: 'string', default: '',
    doc: 'when set, `GET /metrics` needs `Authorization: Bearer <METRICS_TOKEN>` (`401 unauthorized`); without it, listening on a non-loopback address logs a warning at start' },
  serveSourceMaps: { env: 'SERVE_SOURCE_MAPS', kind: 'switch', default: 'off',
    doc: '`true` / `false`: whether `WEB_ROOT`\'s source maps (`rtc-call.js.map`, the element\'s sources) are served; off, they are `404 not_found`' },
} as const satisfies Record<string, Setting>

type ValueOf<S> = S extends { values: readonly (infer V)[] } ? V : S extends { kind: infer K extends Kind } ? KindValue[K] : never

/** The server's settings, by name: each typed by its kind (or the values it may take). */
export type Config = { -readonly [K in keyof typeof SETTINGS]: ValueOf<(typeof SETTINGS)[K]> }

const NAMES = Object.keys(SETTINGS) as Array<keyof Config>

export const defaults: Config = Object.fromEntries(NAMES.map((name) => [name, SETTINGS[name].default])) as unknown as Config

/** Builds a config from defaults, then the environment; throws on a value that does not parse. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const config: Config = { ...defaults }
  for (const name of NAMES) {
    const { env: variable, kind } = SETTINGS[name]
    const raw = env[variable]
    if (raw === undefined || raw === '') continue
    ;(config as unknown as Record<string, unknown>)[name] = parseValue(variable, raw, kind)
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

const LOG_REQUESTS: readonly string[] = SETTINGS.logRequests.values

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
