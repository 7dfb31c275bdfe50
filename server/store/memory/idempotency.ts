/**
 * Idempotency-Key for the in-memory store: the reply of a request's write is kept under the request's
 * scope for idempotencyTtlMs, and a retry under the same scope gets that reply without writing again.
 * (The Redis store keeps the record inside the write's own script instead: redis/lua/idempotent.lua.)
 * In one process every write is synchronous inside, so remembering the reply's promise is atomic enough:
 * a retry that arrives while the first attempt runs waits for it.
 */
import { REMEMBERED, type Store } from '../types.js'

/** Whether a property of the store is a write remembered under a scope (types.ts REMEMBERED). */
function remembered(property: string | symbol): boolean {
  return (REMEMBERED as Partial<Record<string | symbol, boolean>>)[property] === true
}

export class RememberedReplies {
  /** Insertion order is expiry order (one TTL for all), so expired entries are at the front. */
  private readonly replies = new Map<string, { expiresAt: number; reply: Promise<unknown> }>()

  constructor(private readonly ttlMs: number) {}

  /** The store, with each write under `scope` answered once and remembered. */
  view(store: Store, scope: string): Store {
    return new Proxy(store, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver)
        if (typeof value !== 'function' || !remembered(property)) return value
        return (...args: unknown[]) => this.once(`${scope}:${String(property)}`, () => value.apply(target, args))
      },
    })
  }

  private once(key: string, write: () => Promise<unknown>): Promise<unknown> {
    const now = Date.now()
    for (const [old, entry] of this.replies) {
      if (entry.expiresAt > now) break
      this.replies.delete(old)
    }
    const kept = this.replies.get(key)
    if (kept) return kept.reply
    const reply = write()
    this.replies.set(key, { expiresAt: now + this.ttlMs, reply })
    // A failed write changed nothing (the store's contract): a retry runs it again.
    reply.catch(() => this.replies.delete(key))
    return reply
  }
}
