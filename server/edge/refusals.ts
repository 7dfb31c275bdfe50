/**
 * RATE_UNAUTHENTICATED_PER_WINDOW: requests that fail authentication (`401`) or are refused by a limit
 * (`429`) are themselves limited per client address (edge/address.ts), before any other work (issue 22: a
 * flood of bogus Bearer tokens got 5,249 × 401 a second from one address, each parsed, hashed and looked
 * up, never limited, and ~1 MB/s of log). Past the budget, every request of that address is
 * `429 rate_limited` from the first hook until the window ends; nothing else runs for it.
 *
 * Counted in this process only (no store round trip: that is the work being saved). The refusals of an
 * address are also logged at most once a minute, with how many were not.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ApiError } from '../errors.js'
import { addressKey } from './address.js'

/** At most one log line of refusals per client address per this long. */
const LOG_EVERY_MS = 60_000

interface Entry {
  /** When this address's window began, and its refusals in it. */
  windowStart: number
  refused: number
  /** When its last refusal line was logged, and how many refusals were not logged since. */
  loggedAt: number
  unlogged: number
}

/** Whether a response is a refusal: authentication failed, or a limit said no. */
export function isRefusal(status: number): boolean {
  return status === 401 || status === 429
}

export class RefusalBudget {
  private readonly entries = new Map<string, Entry>()
  /** Addresses past their budget in their current window (checked on every request while not empty). */
  private readonly over = new Set<string>()
  /** The log decision of each refused request: how many refusals the line stands for, or null for none. */
  private readonly lines = new WeakMap<FastifyRequest, number | null>()

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /**
   * Limits `app`'s requests: the check first of all hooks. The count is the error handler's (noted()): every
   * refusal is an error, and a hook on every response would cost each relayed message its call.
   */
  install(app: FastifyInstance): void {
    if (this.max > 0) {
      app.addHook('onRequest', (request, _reply, done) => {
        if (this.over.size === 0) return done()
        const retryS = this.blockedFor(addressKey(request.ip), Date.now())
        if (retryS === 0) return done()
        done(new ApiError('rate_limited', `Too many refused requests from your address; retry in ${retryS} s.`, { 'Retry-After': String(retryS) }))
      })
    }
    const sweep = setInterval(() => this.sweep(Date.now()), Math.max(this.windowMs, LOG_EVERY_MS))
    sweep.unref()
    app.addHook('onClose', async () => clearInterval(sweep))
  }

  /** Counts `request`'s answer if it is a refusal (called by the error handler with its status). */
  noted(request: FastifyRequest, status: number): void {
    if (isRefusal(status)) this.lines.set(request, this.refused(addressKey(request.ip), Date.now()))
  }

  /**
   * For the request log: undefined for a request that was not refused; for a refusal, how many refusals of
   * its address its line stands for (itself and those not logged since the last line), or null: no line.
   */
  lineFor(request: FastifyRequest): number | null | undefined {
    return this.lines.get(request)
  }

  /** Seconds until `key` may send again (0: now). */
  blockedFor(key: string, now: number): number {
    if (!this.over.has(key)) return 0
    const entry = this.entries.get(key)
    const left = entry ? entry.windowStart + this.windowMs - now : 0
    if (left > 0) return Math.ceil(left / 1000)
    this.over.delete(key)
    return 0
  }

  /** Counts one refusal of `key` at `now`; answers how many refusals its log line stands for (null: no line now). */
  refused(key: string, now: number): number | null {
    let entry = this.entries.get(key)
    if (!entry) {
      entry = { windowStart: now, refused: 0, loggedAt: -Infinity, unlogged: 0 }
      this.entries.set(key, entry)
    }
    if (now - entry.windowStart >= this.windowMs) {
      entry.windowStart = now
      entry.refused = 0
      this.over.delete(key)
    }
    if (++entry.refused > this.max && this.max > 0) this.over.add(key)
    if (now - entry.loggedAt < LOG_EVERY_MS) {
      entry.unlogged++
      return null
    }
    const standsFor = entry.unlogged + 1
    entry.loggedAt = now
    entry.unlogged = 0
    return standsFor
  }

  /** Forgets addresses whose window and log minute are both over. */
  private sweep(now: number): void {
    for (const [key, entry] of this.entries) {
      if (now - entry.windowStart >= this.windowMs && now - entry.loggedAt >= LOG_EVERY_MS) {
        this.entries.delete(key)
        this.over.delete(key)
      }
    }
  }
}
