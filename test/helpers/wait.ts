/** Bounded waits for tests: a condition that never comes fails with what was awaited, not at tap's time-out. */

/** Long enough for a loaded CI machine; far below tap's per-file 300 s, so that the message is seen. */
export const WAIT_MS = 60_000

/**
 * Polls `check` (a condition that depends on a timer or another process, which sends no event) until it
 * holds; throws "gave up after N ms waiting for <what>" past `timeoutMs`.
 */
export async function until(check: () => unknown, what: string, options: { timeoutMs?: number; everyMs?: number } = {}): Promise<void> {
  const { timeoutMs = WAIT_MS, everyMs = 25 } = options
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** Rejects with "gave up ... waiting for <what>" if `promise` has not settled within `timeoutMs`. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)), timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
