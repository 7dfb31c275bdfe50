/**
 * Near the process's file-descriptor limit, new connections fail for everyone (issue 11: ECONNRESET for
 * 50 s, nothing logged, /readyz 200). The monitor counts open descriptors (/proc/self/fd) against the soft
 * RLIMIT_NOFILE (/proc/self/limits) on an unref'd interval; at FD_WARN_PERCENT it logs a warning and
 * /readyz answers `503 overloaded`, so a load balancer sends new users elsewhere, until the count is
 * back under the mark. Where /proc is missing (not Linux) it stays off.
 */
import { readFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import type { FastifyBaseLogger } from 'fastify'

/** The soft limit on open files, or undefined when unknown or unlimited. */
export function softFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const soft = Number(line?.slice('Max open files'.length).trim().split(/\s+/)[0])
    return Number.isFinite(soft) && soft > 0 ? soft : undefined
  } catch {
    return undefined
  }
}

export class DescriptorMonitor {
  /** True while open descriptors are at or above the warning mark. */
  nearLimit = false
  /** The last count, and the limit it was measured against. */
  openFds = 0
  readonly limit: number | undefined
  private timer?: NodeJS.Timeout
  private sampling = false

  constructor(
    private readonly percent: number,
    private readonly intervalMs: number,
    private readonly log: FastifyBaseLogger,
  ) {
    this.limit = intervalMs > 0 && percent > 0 ? softFileLimit() : undefined
  }

  start(): void {
    if (this.limit === undefined || this.timer) return
    this.timer = setInterval(() => void this.sample(), this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** Counts once. */
  async sample(): Promise<void> {
    if (this.limit === undefined || this.sampling) return
    this.sampling = true
    try {
      this.openFds = (await readdir('/proc/self/fd')).length
    } catch {
      // The directory read itself needs a descriptor: failing to get one is the answer.
      this.openFds = this.limit
    } finally {
      this.sampling = false
    }
    const near = this.openFds >= (this.limit * this.percent) / 100
    if (near === this.nearLimit) return
    this.nearLimit = near
    if (near) {
      this.log.warn({ openFds: this.openFds, limit: this.limit }, `open file descriptors at ${this.percent} % of the limit: /readyz answers 503 until connections close (raise ulimit -n, lower MAX_CONNECTIONS_PER_IP)`)
    } else {
      this.log.info({ openFds: this.openFds, limit: this.limit }, 'open file descriptors back under the warning mark: /readyz ready again')
    }
  }
}
