/**
 * Every setting of the server, with its unit, in one `defaults` object.
 * `configFromEnv()` reads the environment variables listed in ENV; the README's table is this file.
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
}

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
  timerPollMs: 200,
  webRoot: 'web/dist',
  tlsCertFile: '',
  tlsKeyFile: '',
}

type Kind = 'int' | 'string' | 'list'

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
  TIMER_POLL_MS: ['timerPollMs', 'int'],
  WEB_ROOT: ['webRoot', 'string'],
  TLS_CERT_FILE: ['tlsCertFile', 'string'],
  TLS_KEY_FILE: ['tlsKeyFile', 'string'],
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
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${variable} must be a whole number >= 0, got "${raw}"`)
  }
  return value
}

/** Merges partial options over the defaults (what buildApp and tests use). */
export function resolveConfig(options: Partial<Config> = {}): Config {
  return { ...defaults, ...options }
}
