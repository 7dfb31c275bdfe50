import { LitElement, html, nothing, type PropertyValues } from 'lit'
import { property, state } from 'lit/decorators.js'
import { live } from 'lit/directives/live.js'
import { CallSession, DEFAULT_CONNECT_TIMEOUT_MS, type CallRole, type EndReason } from '../call-session.js'
import {
  SignalClient,
  SignalError,
  type SignalEvent,
  type TransportChoice,
  type TransportKind,
} from '../signal-client.js'
import { styles } from './rtc-call.styles.js'
import { TabLeader, tabsCanCoordinate } from './tab-leader.js'

/** The element's call state (API.md): one explicit union. */
export type CallState = 'idle' | 'standby' | 'registered' | 'calling' | 'ringing' | 'in-call'

/** `detail` of each event the element fires. */
export interface RtcCallEventDetail {
  'rtc-registered': { name: string }
  'rtc-standby': { name: string }
  'rtc-incoming': { callId: string; from: string }
  'rtc-connected': { callId: string; peer: string }
  'rtc-ended': { callId: string; reason: EndReason }
  'rtc-transport': { transport: TransportKind }
  'rtc-error': { code: string; message: string }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'rtc-registered': CustomEvent<RtcCallEventDetail['rtc-registered']>
    'rtc-standby': CustomEvent<RtcCallEventDetail['rtc-standby']>
    'rtc-incoming': CustomEvent<RtcCallEventDetail['rtc-incoming']>
    'rtc-connected': CustomEvent<RtcCallEventDetail['rtc-connected']>
    'rtc-ended': CustomEvent<RtcCallEventDetail['rtc-ended']>
    'rtc-transport': CustomEvent<RtcCallEventDetail['rtc-transport']>
    'rtc-error': CustomEvent<RtcCallEventDetail['rtc-error']>
  }
}

/** Verified names: a JWT from the page's backend, or a function that fetches a fresh one per registration. */
export type Credentials = string | (() => string | Promise<string>)

function coded(error: unknown): SignalError {
  if (error instanceof SignalError) return error
  const e = error as { code?: unknown; message?: unknown }
  return new SignalError(typeof e?.code === 'string' ? e.code : 'internal', String(e?.message ?? error))
}

/**
 * A video call with anyone registered on a sigpost server: `<rtc-call server="https://host" name="alice">`.
 *
 * Methods return promises that reject with an `Error` carrying `code`; every failure is also fired as
 * `rtc-error`, so that a page learns about failures of the built-in buttons too.
 *
 * @fires rtc-registered - `{name}`: registered and the event stream is ready.
 * @fires rtc-standby - `{name}`: another tab of this browser holds the name; this one waits for it.
 * @fires rtc-incoming - `{callId, from}`: a call is ringing here.
 * @fires rtc-connected - `{callId, peer}`: the peer connection is connected.
 * @fires rtc-ended - `{callId, reason}`: the call ended (both sides, also the side that ended it).
 * @fires rtc-transport - `{transport}`: `sse` or `poll` is now in use.
 * @fires rtc-error - `{code, message}`: something failed (`replaced`: this name was taken over elsewhere).
 * @slot - Extra content below the controls.
 * @csspart base - The wrapper of everything.
 * @csspart media - The video area.
 * @csspart remote-video - The peer's video.
 * @csspart local-video - Your own camera.
 * @csspart status - The state line (registered as…, calling…, connection state).
 * @csspart error - The last error.
 * @csspart register-form - Name field and Register button (state `idle`).
 * @csspart call-form - Peer field and Call button (state `registered`).
 * @csspart controls - The button row while calling, ringing or in a call.
 * @csspart input - Text fields.
 * @csspart button - Every button; also `register-button`, `call-button`, `accept-button`, `reject-button`,
 *   `hangup-button`, `mute-button`, `camera-button`, `unregister-button`, `speaker-button`, `takeover-button`
 *   (state `standby`: use the name in this tab).
 * @cssproperty --rtc-call-background - Background of the element.
 * @cssproperty --rtc-call-foreground - Text colour.
 * @cssproperty --rtc-call-accent - Background of primary buttons.
 * @cssproperty --rtc-call-accent-foreground - Text of primary buttons.
 * @cssproperty --rtc-call-secondary - Background of secondary and pressed toggle buttons.
 * @cssproperty --rtc-call-danger - Hang-up and reject buttons, errors.
 * @cssproperty --rtc-call-border - Border of the element.
 * @cssproperty --rtc-call-radius - Corner radius.
 * @cssproperty --rtc-call-gap - Space between parts.
 * @cssproperty --rtc-call-padding - Inner padding.
 * @cssproperty --rtc-call-font - Font shorthand.
 * @cssproperty --rtc-call-max-width - Largest width of the element.
 * @cssproperty --rtc-call-video-background - Behind the videos.
 * @cssproperty --rtc-call-local-video-width - Width of your own video, over the peer's.
 * @cssproperty --rtc-call-focus-ring - Focus outline colour.
 */
export class RtcCall extends LitElement {
  static override styles = styles

  /** Base URL of the sigpost server; default: the page's origin. */
  @property() server = ''
  /** Registers under this name when set (and unregisters when cleared). */
  @property({ reflect: true }) name = ''
  /** `auto` (SSE, falling back to long-poll), `sse` or `poll`. */
  @property() transport: TransportChoice = 'auto'
  /** Accept incoming calls without asking. */
  @property({ type: Boolean, attribute: 'auto-answer' }) autoAnswer = false
  /** Calls without a microphone. */
  @property({ type: Boolean, attribute: 'no-audio' }) noAudio = false
  /** Calls without a camera. */
  @property({ type: Boolean, attribute: 'no-video' }) noVideo = false
  /** Passed to RTCPeerConnection: `all` or `relay` (TURN only). */
  @property({ attribute: 'ice-transport-policy' }) iceTransportPolicy: RTCIceTransportPolicy = 'all'
  /** Milliseconds an accepted call may take to connect before it ends as `failed` (0: no limit). */
  @property({ type: Number, attribute: 'connect-timeout' }) connectTimeout = DEFAULT_CONNECT_TIMEOUT_MS
  /**
   * Verified names: a JWT, or an async function returning one (called for each registration), sent as the
   * registration's Bearer. With credentials, `register()` may omit the name: the JWT names the session.
   */
  @property({ attribute: false }) credentials: Credentials | null = null

  @state() private _state: CallState = 'idle'
  @state() private _transportInUse: TransportKind | null = null
  @state() private _localStream: MediaStream | null = null
  @state() private _remoteStream: MediaStream | null = null
  @state() private _callId: string | null = null
  @state() private _peer = ''
  @state() private _connectionState: RTCPeerConnectionState | null = null
  @state() private _muted = false
  @state() private _cameraOff = false
  @state() private _pending = false
  @state() private _error = ''
  @state() private _speakerBlocked = false

  private client: SignalClient | undefined
  private session: CallSession | undefined
  /** The name a registration is under way for (so that reflecting `name` does not start another). */
  private registering: string | undefined
  private registeringDone: Promise<void> | undefined
  /** Leadership of the name among this browser's tabs (tab-leader.ts), while registered or in standby. */
  private tabs: TabLeader | undefined

  /** `idle` | `standby` | `registered` | `calling` | `ringing` | `in-call`. */
  get state(): CallState {
    return this._state
  }
  /** `sse` or `poll` while registered, else null. */
  get transportInUse(): TransportKind | null {
    return this._transportInUse
  }
  get localStream(): MediaStream | null {
    return this._localStream
  }
  get remoteStream(): MediaStream | null {
    return this._remoteStream
  }
  get callId(): string | null {
    return this._callId
  }

  // ---- lifecycle -----------------------------------------------------------------------------------

  override connectedCallback(): void {
    super.connectedCallback()
    window.addEventListener('pagehide', this.onPageHide)
    window.addEventListener('pageshow', this.onPageShow)
    // Re-attached after a removal tore the registration down.
    if (this.hasUpdated && this.name && !this.client && !this.tabs) void this.register(this.name).catch(() => {})
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    window.removeEventListener('pagehide', this.onPageHide)
    window.removeEventListener('pageshow', this.onPageShow)
    // A move within the page disconnects and reconnects synchronously: only a real removal tears down.
    queueMicrotask(() => {
      if (!this.isConnected) this.teardown()
    })
  }

  private onPageHide = (): void => this.teardown()

  private onPageShow = (event: PageTransitionEvent): void => {
    if (event.persisted && this.name && !this.client && !this.tabs) void this.register(this.name).catch(() => {})
  }

  /** Ends the call and the session without waiting (the page or the element is going away). */
  private teardown(): void {
    const client = this.client
    this.session?.end('hangup')
    // The browser would release the lock with the page anyway; an element removed from a live page must too.
    this.tabs?.leave()
    this.tabs = undefined
    if (!client) {
      if (this._state === 'standby') this._state = 'idle'
      this.registering = undefined
      return
    }
    this.client = undefined
    this.registering = undefined
    // keepalive: the request outlives the page. Deleting the session also ends its call (as `hangup`).
    void client.unregister({ keepalive: true }).catch(() => {})
    this.resetCall()
    this._state = 'idle'
    this._transportInUse = null
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has('name')) {
      const registered = this.client?.registration?.name
      // Cleared: sign out, also of a standby (which keeps `registering` while it waits).
      if (!this.name && (this.client || this.tabs) && (this.registering === undefined || this._state === 'standby')) void this.unregister().catch(() => {})
      else if (this.name && this.name !== registered && this.name !== this.registering) {
        void this.register(this.name).catch(() => {})
      }
    }
    if (changed.has('transport') && this.client) {
      void this.client.setTransport(this.transport).catch((error) => this.fail(error))
    }
    if (changed.has('_remoteStream' as keyof RtcCall) && this._remoteStream) this.playRemote()
  }

  /**
   * Autoplay with sound needs a user gesture; without one play muted and offer a button to unmute.
   * Only `NotAllowedError` means that: an `AbortError` is a play() overtaken by a newer stream (each new
   * remote track brings a new MediaStream, e.g. audio then audio+video), which gets its own play().
   * https://html.spec.whatwg.org/multipage/media.html#dom-media-play
   */
  private playRemote(): void {
    const video = this.renderRoot.querySelector<HTMLVideoElement>('video.remote')
    if (!video) return
    // A new call tries with sound again; within a call, stay muted until the speaker button is pressed.
    video.muted = this._speakerBlocked
    video.play().catch((error: DOMException) => {
      if (error?.name !== 'NotAllowedError' || video.srcObject !== this._remoteStream) return
      video.muted = true
      this._speakerBlocked = true
      void video.play().catch(() => {})
    })
  }

  // ---- public methods ------------------------------------------------------------------------------

  /**
   * Registers `name` and attaches the event stream; resolves once the stream is ready, or once this tab
   * waits in `standby` because another tab of this browser holds the name (`state` says which). With
   * `credentials` the name may be omitted (the JWT names the session).
   */
  register(name?: string): Promise<void> {
    return this.run(() => this.acquire(String(name ?? '').trim(), false))
  }

  /**
   * Registers like register(), taking the name over: from the tab of this browser that holds it (open mode
   * too; that tab goes to standby), or, when no tab holds it, from the server (`takeOver: true`: ends the
   * name's session elsewhere; verified names only, open mode answers `forbidden`). Without a name: the
   * element's `name`, or with `credentials` alone the JWT's.
   */
  takeOver(name?: string): Promise<void> {
    return this.run(() => this.acquire(String(name ?? this.name ?? '').trim(), true))
  }

  private async acquire(name: string, takeOver: boolean): Promise<void> {
    if (!name && !this.credentials) throw new SignalError('invalid_name', 'A name is needed (or credentials that name you)')
    if (this.client || this.tabs) {
      const same = (this.client?.registration?.name ?? this.registering) === name
      if (same && this.client && this.registering === undefined) return
      if (same && !(takeOver && this._state === 'standby')) return this.registeringDone
      if (!same) await this.unregister()
    }
    this.registering = name
    if (name) this.name = name
    // Tabs coordinate on the name: with credentials alone it is known only once registered, so such a
    // registration goes straight to the server (another tab holding the name makes it `name_taken`).
    if (!name || !tabsCanCoordinate()) {
      this.registeringDone = this.registerNow(name, { takeOver })
      return this.registeringDone
    }
    let tabs = this.tabs
    if (!tabs) {
      tabs = new TabLeader(new URL(this.server || location.origin, location.href).href.replace(/\/+$/, ''), name, {
        lead: (after) => this.run(() => this.registerNow(name, { waitForName: after === 'wait' ? 40_000 : 10_000 })).catch(() => {}),
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

  /** This tab waits for the name held by another tab of this browser. */
  private enterStandby(name: string): void {
    this.registering = name
    this.registeringDone = Promise.resolve()
    this._state = 'standby'
    this.emit('rtc-standby', { name })
  }

  /** Another tab takes the name over: end our call and session, and wait (tab-leader.ts). */
  private async yieldName(): Promise<void> {
    const client = this.client
    this.client = undefined
    this.session?.end('hangup')
    this.resetCall()
    this._transportInUse = null
    if (client?.registration) await client.unregister().catch(() => {})
    else client?.close()
  }

  /**
   * The registration itself. `waitForName`: this tab was just granted the name after another tab of this
   * browser held it, whose session may still be ending (a closing tab's goodbye is on its way; a crashed
   * tab's session lasts graceMs): `name_taken` is retried for up to this many ms, in standby.
   */
  private async registerNow(name: string, options: { takeOver?: boolean; waitForName?: number } = {}): Promise<void> {
    const deadline = Date.now() + (options.waitForName ?? 0)
    for (;;) {
      try {
        return await this.registerOnce(name, options.takeOver)
      } catch (error) {
        const retry = (error as SignalError).code === 'name_taken' && Date.now() < deadline && this.registering === name
        if (!retry) {
          if (this.registering === name && !this.client) {
            this.tabs?.leave()
            this.tabs = undefined
            this.registering = undefined
            if (this._state === 'standby') this._state = 'idle'
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
      server: this.server || location.origin,
      transport: this.transport,
      onEvent: (event) => this.onSignal(client, event),
      onTransport: (transport) => {
        if (this.client !== client) return
        this._transportInUse = transport
        this.emit('rtc-transport', { transport })
      },
      onError: (error) => this.onStreamError(client, error),
    })
    this.client = client
    let registered: string
    try {
      const credentials = typeof this.credentials === 'function' ? await this.credentials() : (this.credentials ?? undefined)
      registered = (await client.register(name || undefined, { credentials, takeOver })).name
    } catch (error) {
      if (this.client === client) {
        this.client = undefined
        this._transportInUse = null
      }
      throw error
    }
    if (this.client !== client) throw new SignalError('invalid_state', 'Unregistered while registering')
    this.registering = undefined
    // The JWT's name, which is the one asked for when a name was given (the server checks).
    this.name = registered
    this._state = 'registered'
    this.emit('rtc-registered', { name: registered })
  }

  /** Calls `peerName`; resolves with the callId once the call is placed (not when it connects). */
  call(peerName: string): Promise<string> {
    return this.run(async () => {
      this.requireRegistered()
      if (this.session) throw new SignalError('invalid_state', 'Already in a call')
      const session = this.newSession('caller', String(peerName ?? '').trim())
      this._state = 'calling'
      try {
        const callId = await session.start()
        if (this.session === session) this._callId = callId
        return callId
      } catch (error) {
        session.end('failed')
        throw error
      }
    })
  }

  /** Accepts the ringing incoming call. */
  accept(): Promise<void> {
    return this.run(async () => {
      const session = this.session
      if (!session || session.role !== 'callee' || this._state !== 'ringing') {
        throw new SignalError('invalid_state', 'There is no incoming call to accept')
      }
      try {
        await session.accept()
      } catch (error) {
        // Do not leave the caller ringing when we cannot take the call (e.g. no camera).
        void session.hangUp().catch(() => {})
        throw error
      }
    })
  }

  /** Rejects the ringing incoming call (`reason` defaults to `declined`). */
  reject(reason?: string): Promise<void> {
    return this.run(async () => {
      const session = this.session
      if (!session || session.role !== 'callee' || this._state !== 'ringing') {
        throw new SignalError('invalid_state', 'There is no incoming call to reject')
      }
      await session.reject(reason)
    })
  }

  /** Hangs up, or cancels an outgoing call that still rings. */
  hangUp(): Promise<void> {
    return this.run(async () => {
      const session = this.session
      if (!session) throw new SignalError('invalid_state', 'There is no call to hang up')
      await session.hangUp()
    })
  }

  /** Ends the session on the server (any call ends as `hangup`) and frees the name. */
  unregister(): Promise<void> {
    return this.run(async () => {
      const client = this.client
      const tabs = this.tabs
      if (!client && !tabs) throw new SignalError('invalid_state', 'Not registered')
      this.client = undefined
      this.tabs = undefined
      this.registering = undefined
      this.session?.end('hangup')
      this._state = 'idle'
      this._transportInUse = null
      this.name = ''
      try {
        if (client?.registration) await client.unregister()
        else client?.close()
      } finally {
        // After the session is gone, so that a waiting tab's registration finds the name free.
        tabs?.leave()
      }
    })
  }

  /** Names registered on the server now (`GET /v1/sessions`). */
  listNames(): Promise<string[]> {
    return this.run(async () => {
      const client = this.requireRegistered()
      const { names } = await client.request<{ names: string[] }>('GET', '/v1/sessions')
      return names
    }, true)
  }

  // ---- internals -----------------------------------------------------------------------------------

  private emit<K extends keyof RtcCallEventDetail>(type: K, detail: RtcCallEventDetail[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }))
  }

  private fail(error: unknown): SignalError {
    const e = coded(error)
    this._error = e.message
    this.emit('rtc-error', { code: e.code, message: e.message })
    return e
  }

  /**
   * Runs a public method: clears the last error (unless `keepError`: a background read such as listNames()
   * must not hide what the user was told), and turns every failure into a coded rejection + rtc-error.
   */
  private async run<T>(fn: () => Promise<T>, keepError = false): Promise<T> {
    if (!keepError) this._error = ''
    this._pending = true
    try {
      return await fn()
    } catch (error) {
      throw this.fail(error)
    } finally {
      this._pending = false
    }
  }

  private requireRegistered(): SignalClient {
    if (!this.client?.registration || this.registering !== undefined) throw new SignalError('invalid_state', 'Not registered')
    return this.client
  }

  private newSession(role: CallRole, peer: string, incoming?: { callId: string; sdpOffer: RTCSessionDescriptionInit }): CallSession {
    const client = this.client!
    const session: CallSession = new CallSession({
      client,
      role,
      peer,
      callId: incoming?.callId,
      remoteOffer: incoming?.sdpOffer,
      iceServers: client.registration?.iceServers ?? [],
      iceTransportPolicy: this.iceTransportPolicy === 'relay' ? 'relay' : 'all',
      audio: !this.noAudio,
      video: !this.noVideo,
      // A missing or malformed attribute (NaN) keeps the default rather than disabling the limit.
      connectTimeoutMs: Number.isFinite(this.connectTimeout) && this.connectTimeout >= 0 ? this.connectTimeout : DEFAULT_CONNECT_TIMEOUT_MS,
      onLocalStream: (stream) => {
        if (this.session === session) this._localStream = stream
      },
      onRemoteStream: (stream) => {
        if (this.session === session) this._remoteStream = stream
      },
      onConnectionState: (connectionState) => {
        if (this.session === session) this._connectionState = connectionState
      },
      onActive: () => {
        if (this.session === session) this._state = 'in-call'
      },
      onConnected: () => {
        if (this.session === session) this.emit('rtc-connected', { callId: session.callId!, peer })
      },
      onEnded: (reason) => this.onEnded(session, reason),
      onWarning: (error) => console.warn('rtc-call:', error),
    })
    this.session = session
    this._peer = peer
    this._callId = incoming?.callId ?? null
    this._muted = false
    this._cameraOff = false
    return session
  }

  private onEnded(session: CallSession, reason: EndReason): void {
    if (this.session !== session) return
    this.session = undefined
    this.resetCall()
    if (this._state !== 'idle') this._state = this.client?.registration ? 'registered' : 'idle'
    // A call that was never placed (e.g. peer_not_found) did not exist: its failure is the rtc-error.
    if (session.callId) this.emit('rtc-ended', { callId: session.callId, reason })
  }

  private resetCall(): void {
    this._localStream = null
    this._remoteStream = null
    this._callId = null
    this._peer = ''
    this._connectionState = null
    this._speakerBlocked = false
  }

  private onSignal(client: SignalClient, event: SignalEvent): void {
    if (client !== this.client) return
    if (event.event === 'incomingCall') {
      this.onIncoming(client, event.data)
      return
    }
    const session = this.session
    if (!session) return
    // Until POST /v1/calls answers, the caller does not know its callId: the session sorts that out.
    if (session.callId === undefined || event.data?.callId === session.callId) session.handle(event)
  }

  private onIncoming(client: SignalClient, data: { callId: string; from: string; sdpOffer: RTCSessionDescriptionInit }): void {
    if (this.session) {
      // Our own call crossed theirs: we are busy.
      void client.request('POST', `/v1/calls/${encodeURIComponent(data.callId)}/reject`, { reason: 'busy' }).catch(() => {})
      return
    }
    this.newSession('callee', data.from, data)
    this._state = 'ringing'
    this.emit('rtc-incoming', { callId: data.callId, from: data.from })
    if (this.autoAnswer) void this.accept().catch(() => {})
  }

  private onStreamError(client: SignalClient, error: SignalError): void {
    if (client !== this.client) return
    this.client = undefined
    this.registering = undefined
    this.tabs?.leave()
    this.tabs = undefined
    client.close()
    // `replaced`: this name was taken over elsewhere (its owner's other device); that ends our call.
    this.session?.end(error.code === 'replaced' ? 'hangup' : 'failed')
    this.resetCall()
    this._state = 'idle'
    this._transportInUse = null
    this.fail(error)
  }

  // ---- UI ------------------------------------------------------------------------------------------

  private onRegisterSubmit(event: SubmitEvent): void {
    event.preventDefault()
    const input = (event.currentTarget as HTMLFormElement).elements.namedItem('name') as HTMLInputElement
    void this.register(input.value).catch(() => {})
  }

  private onCallSubmit(event: SubmitEvent): void {
    event.preventDefault()
    const input = (event.currentTarget as HTMLFormElement).elements.namedItem('peer') as HTMLInputElement
    void this.call(input.value).catch(() => {})
  }

  private toggleMute(): void {
    this._muted = !this._muted
    this.session?.setAudioEnabled(!this._muted)
  }

  private toggleCamera(): void {
    this._cameraOff = !this._cameraOff
    this.session?.setVideoEnabled(!this._cameraOff)
  }

  private unblockSpeaker(): void {
    const video = this.renderRoot.querySelector<HTMLVideoElement>('video.remote')
    if (video) {
      video.muted = false
      void video.play().catch(() => {})
    }
    this._speakerBlocked = false
  }

  private statusText(): string {
    const name = this.client?.registration?.name ?? this.registering
    switch (this._state) {
      case 'idle':
        return this.registering !== undefined ? `Registering${this.registering ? ` as ${this.registering}` : ''}…` : 'Not registered'
      case 'standby':
        return `${name} is in use in another tab of this browser. This tab waits and takes over when that tab closes or signs out.`
      case 'registered':
        return `Registered as ${name}${this._transportInUse ? ` (${this._transportInUse})` : ''}`
      case 'calling':
        return `Calling ${this._peer}…`
      case 'ringing':
        return `Incoming call from ${this._peer}`
      case 'in-call':
        return `In call with ${this._peer}: ${this._connectionState ?? 'new'}`
    }
  }

  private renderControls() {
    const pending = this._pending
    switch (this._state) {
      case 'idle':
        return html`<form part="register-form" @submit=${this.onRegisterSubmit}>
          <label>Your name
            <input part="input" name="name" required maxlength="64" autocomplete="off" spellcheck="false" .value=${this.name} />
          </label>
          <button part="button register-button" type="submit" ?disabled=${pending}>Register</button>
        </form>`
      case 'standby':
        return html`<div part="controls" class="controls">
          <button part="button takeover-button" type="button" ?disabled=${pending}
            @click=${() => void this.takeOver().catch(() => {})}>Use here</button>
          <button part="button unregister-button" class="secondary" type="button" ?disabled=${pending}
            @click=${() => void this.unregister().catch(() => {})}>Sign out</button>
        </div>`
      case 'registered':
        return html`<form part="call-form" @submit=${this.onCallSubmit}>
          <label>Name to call
            <input part="input" name="peer" required maxlength="64" autocomplete="off" spellcheck="false" />
          </label>
          <button part="button call-button" type="submit" ?disabled=${pending}>Call</button>
          <button part="button unregister-button" class="secondary" type="button" ?disabled=${pending}
            @click=${() => void this.unregister().catch(() => {})}>Sign out</button>
        </form>`
      case 'calling':
        return html`<div part="controls" class="controls">
          <button part="button hangup-button" class="danger" type="button" @click=${() => void this.hangUp().catch(() => {})}>Cancel</button>
        </div>`
      case 'ringing':
        return html`<div part="controls" class="controls">
          <button part="button accept-button" type="button" ?disabled=${pending} @click=${() => void this.accept().catch(() => {})}>Accept</button>
          <button part="button reject-button" class="danger" type="button" ?disabled=${pending} @click=${() => void this.reject().catch(() => {})}>Reject</button>
        </div>`
      case 'in-call':
        return html`<div part="controls" class="controls">
          <button part="button mute-button" type="button" aria-pressed=${this._muted ? 'true' : 'false'} ?disabled=${this.noAudio}
            @click=${this.toggleMute}>${this._muted ? 'Unmute' : 'Mute'}</button>
          <button part="button camera-button" type="button" aria-pressed=${this._cameraOff ? 'true' : 'false'} ?disabled=${this.noVideo}
            @click=${this.toggleCamera}>${this._cameraOff ? 'Camera on' : 'Camera off'}</button>
          ${this._speakerBlocked
            ? html`<button part="button speaker-button" class="secondary" type="button" @click=${this.unblockSpeaker}>Unmute speaker</button>`
            : nothing}
          <button part="button hangup-button" class="danger" type="button" @click=${() => void this.hangUp().catch(() => {})}>Hang up</button>
        </div>`
    }
  }

  protected override render() {
    const showMedia = this._localStream !== null || this._remoteStream !== null
    // `live()`: Lit commits an object-valued binding on every render, and every assignment to srcObject,
    // even of the same stream, reloads the video (it goes blank, pauses and rejects pending play()s:
    // https://html.spec.whatwg.org/multipage/media.html#dom-media-srcobject). Assign only a different stream.
    return html`<div part="base" class="base">
      <div part="media" class="media" ?hidden=${!showMedia}>
        <video part="remote-video" class="remote" aria-label=${`Video of ${this._peer || 'the other party'}`}
          autoplay playsinline .srcObject=${live(this._remoteStream)}></video>
        <video part="local-video" class="local" aria-label="Your camera" autoplay playsinline
          .muted=${true} .srcObject=${live(this._localStream)} ?hidden=${!this._localStream || this.noVideo}></video>
      </div>
      <p part="status" class="status" role="status" aria-live="polite">${this.statusText()}</p>
      ${this.renderControls()}
      ${this._error ? html`<p part="error" class="error" role="alert">${this._error}</p>` : nothing}
      <slot></slot>
    </div>`
  }
}
