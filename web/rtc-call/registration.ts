/**
 * The element's registration: the SignalClient of its name and its event stream, the name's leadership
 * among this browser's tabs (tab-leader.ts: `standby`, hand-over), following the `name` and `transport`
 * properties, and the goodbye when the page or the element goes away (pagehide, removal; re-registering on
 * a back/forward restore or a re-attach).
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { SignalClient, SignalError, type SignalEvent, type TransportChoice } from '../signal-client.js'
import { TabLeader, tabsCanCoordinate } from './tab-leader.js'
import type { CallStatus } from './call-status.js'
import type { ActionRunner } from './action-runner.js'
import type { CallFlow } from './call-flow.js'
import type { IncomingCallController } from './incoming-call.js'
import { missedFromEvent } from './missed-calls.js'
import type { Credentials } from './rtc-call.events.js'

export interface RegistrationHost extends ReactiveControllerHost {
  server: string
  transport: TransportChoice
  credentials: Credentials | null
  name: string
  readonly isConnected: boolean
  readonly hasUpdated: boolean
  register(name?: string): Promise<void>
  unregister(): Promise<void>
}

interface RegisterOptions {
  /** `takeOver: true` from the first request. */
  takeOver?: boolean
  /** `name_taken` is retried for up to this many ms (the previous holder's session may still be ending). */
  waitForName?: number
  /** Asked on `name_taken`: true sends the next request with `takeOver: true` at once. */
  takeOverWhenHeld?: () => boolean
  /** Called once the registration succeeded or gave up. */
  settled?: () => void
}

export class RegistrationController implements ReactiveController {
  private _client: SignalClient | undefined
  /** The name a registration is under way for (so that reflecting `name` does not start another). */
  registering: string | undefined
  private registeringDone: Promise<void> | undefined
  /** Leadership of the name among this browser's tabs (tab-leader.ts), while registered or in standby. */
  private tabs: TabLeader | undefined

  constructor(
    private readonly host: RegistrationHost,
    private readonly status: CallStatus,
    private readonly runner: ActionRunner,
    /** The call in progress: gets the client, the call's events, and is ended when the session goes. */
    private readonly flow: CallFlow,
    /** Gets `incomingCall`. */
    private readonly incoming: IncomingCallController,
  ) {
    host.addController(this)
  }

  /** The client of the registration (registered, or registering); undefined when signed out. */
  get client(): SignalClient | undefined {
    return this._client
  }
  private set client(client: SignalClient | undefined) {
    this._client = client
    this.flow.client = client
  }

  /** An event of the current registration's stream (a replaced client's never get here): where it goes. */
  private dispatch(client: SignalClient, event: SignalEvent): void {
    if (event.event === 'incomingCall') {
      this.incoming.onIncomingCall(client, event.data)
    } else if (event.event === 'missedCall') {
      const entry = missedFromEvent(event.data)
      if (entry) this.status.addMissed(entry)
    } else {
      this.flow.handle(event)
    }
  }

  hostConnected(): void {
    window.addEventListener('pagehide', this.onPageHide)
    window.addEventListener('pageshow', this.onPageShow)
    // Re-attached after a removal tore the registration down.
    if (this.host.hasUpdated && this.host.name && !this.client && !this.tabs) void this.host.register(this.host.name).catch(() => {})
  }

  hostDisconnected(): void {
    window.removeEventListener('pagehide', this.onPageHide)
    window.removeEventListener('pageshow', this.onPageShow)
    // A move within the page disconnects and reconnects synchronously: only a real removal tears down.
    queueMicrotask(() => {
      if (!this.host.isConnected) this.teardown()
    })
  }

  private onPageHide = (): void => this.teardown()

  private onPageShow = (event: PageTransitionEvent): void => {
    if (event.persisted && this.host.name && !this.client && !this.tabs) void this.host.register(this.host.name).catch(() => {})
  }

  /** The name registered, or being registered ('' when none). */
  get currentName(): string {
    return this.client?.registration?.name ?? this.registering ?? ''
  }

  /** `name` changed: register it, or sign out when it was cleared. */
  nameChanged(): void {
    const name = this.host.name
    const registered = this.client?.registration?.name
    // Cleared: sign out, also of a standby (which keeps `registering` while it waits).
    if (!name && (this.client || this.tabs) && (this.registering === undefined || this.status.state === 'standby')) void this.host.unregister().catch(() => {})
    else if (name && name !== registered && name !== this.registering) {
      void this.host.register(name).catch(() => {})
    }
  }

  transportChanged(): void {
    if (this.client) void this.client.setTransport(this.host.transport).catch((error) => this.status.fail(error))
  }

  requireRegistered(): SignalClient {
    if (!this.client?.registration || this.registering !== undefined) throw new SignalError('invalid_state', 'Not registered')
    return this.client
  }

  /** register() (`takeOver` false) and takeOver(): see their doc comments in rtc-call.component.ts. */
  async acquire(name: string, takeOver: boolean): Promise<void> {
    if (!name && !this.host.credentials) throw new SignalError('invalid_name', 'A name is needed (or credentials that name you)')
    if (this.client || this.tabs) {
      const same = (this.client?.registration?.name ?? this.registering) === name
      if (same && this.client && this.registering === undefined) return
      if (same && !(takeOver && this.status.state === 'standby')) return this.registeringDone
      if (!same) await this.host.unregister()
    }
    this.registering = name
    if (name) this.host.name = name
    // Tabs coordinate on the name: with credentials alone it is known only once registered, so such a
    // registration goes straight to the server (another tab holding the name makes it `name_taken`).
    if (!name || !tabsCanCoordinate()) {
      this.registeringDone = this.registerNow(name, { takeOver })
      return this.registeringDone
    }
    let tabs = this.tabs
    if (!tabs) {
      tabs = new TabLeader(new URL(this.host.server || location.origin, location.href).href.replace(/\/+$/, ''), name, {
        lead: (after) => this.runner.run(() => this.registerNow(name, this.leadOptions(after, tabs!))).catch(() => {}),
        yield: () => this.yieldName(),
        standby: () => this.enterStandby(name),
      })
      this.tabs = tabs
      const role = await tabs.join()
      if (this.tabs !== tabs) throw new SignalError('invalid_state', 'Unregistered while registering')
      // No tab of this browser holds the name: only now may takeOver() go to the server with takeOver: true.
      if (role === 'leader') {
        this.registeringDone = this.registerNow(name, { takeOver })
        return this.registeringDone
      }
      this.enterStandby(name)
      if (!takeOver) return
    }
    // Waiting here, and taking over from the holder tab: it hands over, then this tab registers.
    this.registeringDone = tabs.takeOver()
    return this.registeringDone
  }

  /**
   * How a tab that was just granted the name registers it. After waiting, the previous holder's session may
   * still be ending: a closing tab's goodbye is on its way, a crashed tab's session lasts graceMs. With
   * verified names this tab takes the name over at once (docs/element.md "Verified names": at once
   * with verified names via takeOver), unless the previous holder was itself displaced from outside this browser; in open mode
   * (no takeOver there) `name_taken` is retried until the old session is gone.
   */
  private leadOptions(after: 'wait' | 'steal', tabs: TabLeader): RegisterOptions {
    if (after === 'steal') return { waitForName: 10_000 }
    // Asked only once the name proved held (a round trip after the lock was granted): the displaced holder
    // says "taken elsewhere" before it lets the lock go, so by then that message has arrived. The word
    // counts for this one holding only.
    return {
      waitForName: 40_000,
      takeOverWhenHeld: () => !!this.host.credentials && !tabs.takenElsewhere,
      settled: () => (tabs.takenElsewhere = false),
    }
  }

  /** Ends the session on the server (any call ends as `hangup`) and frees the name. */
  async unregister(): Promise<void> {
    const client = this.client
    const tabs = this.tabs
    if (!client && !tabs) throw new SignalError('invalid_state', 'Not registered')
    this.client = undefined
    this.tabs = undefined
    this.registering = undefined
    this.flow.end('hangup')
    this.status.state = 'idle'
    this.status.transportInUse = null
    this.host.name = ''
    try {
      if (client?.registration) await client.unregister()
      else client?.close()
    } finally {
      // After the session is gone, so that a waiting tab's registration finds the name free.
      tabs?.leave()
    }
  }

  /** Ends the call and the session without waiting (the page or the element is going away). */
  private teardown(): void {
    const client = this.client
    this.flow.end('hangup')
    // The browser would release the lock with the page anyway; an element removed from a live page must too.
    this.tabs?.leave()
    this.tabs = undefined
    if (!client) {
      if (this.status.state === 'standby') this.status.state = 'idle'
      this.registering = undefined
      return
    }
    this.client = undefined
    this.registering = undefined
    // keepalive: the request outlives the page. Deleting the session also ends its call (as `hangup`).
    void client.unregister({ keepalive: true }).catch(() => {})
    this.flow.reset()
    this.status.state = 'idle'
    this.status.transportInUse = null
  }

  /** This tab waits for the name held by another tab of this browser. */
  private enterStandby(name: string): void {
    this.registering = name
    this.registeringDone = Promise.resolve()
    this.status.state = 'standby'
    this.status.emit('rtc-standby', { name })
  }

  /** Another tab takes the name over: end our call and session, and wait (tab-leader.ts). */
  private async yieldName(): Promise<void> {
    const client = this.client
    this.client = undefined
    this.flow.end('hangup')
    this.flow.reset()
    this.status.transportInUse = null
    if (client?.registration) await client.unregister().catch(() => {})
    else client?.close()
  }

  /**
   * The registration itself. `waitForName`: this tab was just granted the name after another tab of this
   * browser held it, whose session may still be ending (a closing tab's goodbye is on its way; a crashed
   * tab's session lasts graceMs): `name_taken` is retried for up to this many ms, in standby.
   */
  private async registerNow(name: string, options: RegisterOptions = {}): Promise<void> {
    try {
      await this.registerUntil(name, options)
    } finally {
      options.settled?.()
    }
  }

  private async registerUntil(name: string, options: RegisterOptions): Promise<void> {
    const deadline = Date.now() + (options.waitForName ?? 0)
    let takeOver = options.takeOver ?? false
    for (;;) {
      try {
        return await this.registerOnce(name, takeOver)
      } catch (error) {
        const taken = (error as SignalError).code === 'name_taken' && this.registering === name
        if (taken && !takeOver && options.takeOverWhenHeld?.()) {
          takeOver = true
          continue
        }
        const retry = taken && Date.now() < deadline
        if (!retry) {
          if (this.registering === name && !this.client) {
            this.tabs?.leave()
            this.tabs = undefined
            this.registering = undefined
            if (this.status.state === 'standby') this.status.state = 'idle'
          }
          throw error
        }
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
    }
  }

  /** One `POST /v1/sessions` with fresh credentials (if any); `name` '' lets the JWT name the session. */
  private async registerOnce(name: string, takeOver = false): Promise<void> {
    const client: SignalClient = new SignalClient({
      server: this.host.server || location.origin,
      transport: this.host.transport,
      onEvent: (event) => {
        if (client === this.client) this.dispatch(client, event)
      },
      onTransport: (transport) => {
        if (this.client !== client) return
        this.status.transportInUse = transport
        this.status.emit('rtc-transport', { transport })
      },
      onError: (error) => this.onStreamError(client, error),
    })
    this.client = client
    let registered: string
    try {
      const credentials = typeof this.host.credentials === 'function' ? await this.host.credentials() : (this.host.credentials ?? undefined)
      registered = (await client.register(name || undefined, { credentials, takeOver })).name
    } catch (error) {
      if (this.client === client) {
        this.client = undefined
        this.status.transportInUse = null
      }
      throw error
    }
    if (this.client !== client) throw new SignalError('invalid_state', 'Unregistered while registering')
    this.registering = undefined
    // The JWT's name, which is the one asked for when a name was given (the server checks).
    this.host.name = registered
    this.status.state = 'registered'
    this.tabs?.announceHolding()
    this.status.emit('rtc-registered', { name: registered })
  }

  private onStreamError(client: SignalClient, error: SignalError): void {
    if (client !== this.client) return
    this.client = undefined
    this.registering = undefined
    // Taken over from outside this browser, whether the stream saw `replaced` or the next request found the
    // session gone (a take-over while no stream was attached): the waiting tabs must not take it back. A
    // session that merely expired left the name free: their registration never needs a take-over then.
    if (error.code === 'replaced' || error.code === 'unauthorized') this.tabs?.announceTakenElsewhere()
    this.tabs?.leave()
    this.tabs = undefined
    client.close()
    // `replaced`: this name was taken over elsewhere (its owner's other device); that ends our call.
    this.flow.end(error.code === 'replaced' ? 'hangup' : 'failed')
    this.flow.reset()
    this.status.state = 'idle'
    this.status.transportInUse = null
    this.status.fail(error)
  }
}
