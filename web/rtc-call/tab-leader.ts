/**
 * One name, many tabs (docs/element.md "One name, many tabs"): elements of one browser profile and origin
 * that register the same name on the same server elect one holder with a Web Lock per (server, name); the
 * others wait in the lock's queue (`standby`). The browser releases a closed or crashed tab's lock, so the
 * next waiting tab is granted it and registers.
 *
 * A hand-over (`takeOver()` in a waiting tab) goes over a BroadcastChannel of the same key: the waiting tab
 * asks, the holder ends its session on the server and answers, and the waiting tab then steals the lock
 * (`steal: true`), so that it, and not another waiting tab, is next. The displaced holder's lock request
 * rejects (AbortError) and it queues again as a waiting tab. A holder that does not answer in time (a frozen
 * tab) is stolen from anyway; it gives the name up as soon as it runs again.
 * https://developer.mozilla.org/docs/Web/API/Web_Locks_API
 */

/** How long a waiting tab's takeOver() waits for the holder to answer before it steals the lock. */
const HAND_OVER_WAIT_MS = 3000
/** A holder that handed over gives the lock back by itself after this long if nobody took it. */
const HAND_OVER_RELEASE_MS = 5000

type Message = { type: 'hand-over'; to: string } | { type: 'handed-over'; to: string } | { type: 'taken-elsewhere' } | { type: 'holding' }

export interface TabLeaderHooks {
  /** This tab now holds the name (granted after waiting, or after a steal): register it. */
  lead(after: 'wait' | 'steal'): Promise<void>
  /** Another tab takes the name: end this tab's session now (resolves once the server answered). */
  yield(): Promise<void>
  /** This tab waits for the name (also after yielding it). */
  standby(): void
}

export function tabsCanCoordinate(): boolean {
  return typeof navigator !== 'undefined' && 'locks' in navigator && typeof BroadcastChannel !== 'undefined'
}

/** Leadership of one (server, name) for one element; `leave()` releases everything. */
export class TabLeader {
  private readonly id = Math.random().toString(36).slice(2)
  private readonly key: string
  private readonly channel: BroadcastChannel
  /** Resolves the held lock's callback: releases the lock. */
  private releaseLock: (() => void) | undefined
  /** Cancels a queued (waiting) lock request. */
  private waiting: AbortController | undefined
  private handedOver: (() => void) | undefined
  /** This tab ended its session for a hand-over: the steal that follows needs no second goodbye. */
  private yielded = false
  private left = false
  holding = false
  /**
   * The holder tab said its session was taken over from outside this browser (the owner's other device):
   * the next holder here must not take the name back (that would be a ping-pong between devices).
   */
  takenElsewhere = false

  constructor(
    server: string,
    readonly name: string,
    private readonly hooks: TabLeaderHooks,
  ) {
    this.key = `sigpost:${server}:${name}`
    this.channel = new BroadcastChannel(this.key)
    this.channel.onmessage = (event: MessageEvent<Message>) => this.onMessage(event.data)
  }

  /** Holds the name if no other tab does (`leader`), else queues for it (`standby`). */
  async join(): Promise<'leader' | 'standby'> {
    const granted = await new Promise<boolean>((resolve) => {
      navigator.locks
        .request(this.key, { ifAvailable: true }, (lock) => {
          if (!lock) {
            resolve(false)
            return undefined
          }
          resolve(true)
          return this.hold()
        })
        .catch(() => this.displaced())
    })
    if (this.left) return 'standby'
    if (granted) return 'leader'
    this.queue()
    return 'standby'
  }

  /**
   * takeOver() in a waiting tab: the holder tab hands over (ends its session, answers), then this tab
   * steals the lock and leads; resolves once `lead('steal')` has. A holder that does not answer within
   * HAND_OVER_WAIT_MS is stolen from anyway.
   */
  async takeOver(): Promise<void> {
    if (this.holding || this.left) return
    const answered = new Promise<void>((resolve) => {
      this.handedOver = resolve
      setTimeout(resolve, HAND_OVER_WAIT_MS)
    })
    this.channel.postMessage({ type: 'hand-over', to: this.id } satisfies Message)
    await answered
    this.handedOver = undefined
    if (this.left) return
    this.waiting?.abort()
    this.waiting = undefined
    await new Promise<void>((resolve) => {
      navigator.locks
        .request(this.key, { steal: true }, () => {
          resolve()
          return this.hold()
        })
        .catch(() => this.displaced())
    })
    await this.hooks.lead('steal')
  }

  /** The holder's session was taken over from outside this browser: tells the waiting tabs, before leave(). */
  announceTakenElsewhere(): void {
    if (!this.left) this.channel.postMessage({ type: 'taken-elsewhere' } satisfies Message)
  }

  /** This tab registered the name: an earlier "taken elsewhere" no longer says anything about its holder. */
  announceHolding(): void {
    if (!this.left) this.channel.postMessage({ type: 'holding' } satisfies Message)
  }

  /** Stops holding or waiting (unregister, the element or page going away). */
  leave(): void {
    this.left = true
    this.waiting?.abort()
    this.waiting = undefined
    this.releaseLock?.()
    this.releaseLock = undefined
    this.holding = false
    this.channel.close()
  }

  private hold(): Promise<void> {
    this.holding = true
    return new Promise<void>((resolve) => {
      this.releaseLock = () => {
        this.holding = false
        resolve()
      }
    })
  }

  /** Waits in the lock's queue; granted, this tab leads. */
  private queue(): void {
    if (this.left || this.waiting) return
    const waiting = new AbortController()
    this.waiting = waiting
    navigator.locks
      .request(this.key, { signal: waiting.signal }, () => {
        if (this.waiting === waiting) this.waiting = undefined
        if (this.left) return undefined
        const held = this.hold()
        void this.hooks.lead('wait')
        return held
      })
      .catch(() => {
        // Aborted (we stopped waiting), or stolen from us after it was granted.
        if (this.waiting === waiting) this.waiting = undefined
        if (!waiting.signal.aborted) this.displaced()
      })
  }

  /** Our lock was stolen (a hand-over, or a steal from a tab that did not hear us answer). */
  private displaced(): void {
    if (this.left) return
    this.holding = false
    this.releaseLock = undefined
    if (this.yielded) {
      this.yielded = false
      this.queue()
      return
    }
    void this.hooks.yield().finally(() => {
      if (this.left) return
      this.hooks.standby()
      this.queue()
    })
  }

  private onMessage(message: Message): void {
    if (message.type === 'taken-elsewhere' || message.type === 'holding') {
      this.takenElsewhere = message.type === 'taken-elsewhere'
      return
    }
    if (message.type === 'handed-over' && message.to === this.id) {
      this.handedOver?.()
      return
    }
    if (message.type !== 'hand-over' || !this.holding || this.left) return
    // End the session first, so that the new holder's registration finds the name free.
    this.yielded = true
    void this.hooks.yield().finally(() => {
      this.channel.postMessage({ type: 'handed-over', to: message.to } satisfies Message)
      this.hooks.standby()
      // If nobody steals the lock after all, give it back to the queue (and wait in it again).
      const release = this.releaseLock
      setTimeout(() => {
        if (this.releaseLock === release && release) {
          release()
          this.releaseLock = undefined
          this.yielded = false
          this.queue()
        }
      }, HAND_OVER_RELEASE_MS)
    })
  }
}
