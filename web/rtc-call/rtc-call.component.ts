import { LitElement, html, nothing, type PropertyValues } from 'lit'
import { property, state } from 'lit/decorators.js'
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
import { builtIn, sanitize, type Strings } from './strings.js'
import { icons } from './icons.js'
import { PeerMediaChannel, type MediaState } from './peer-media.js'
import { DEVICE_KINDS, MediaDevicesController, type DeviceInfo, type DeviceKind } from './media-devices.js'
import { ScreenShare } from './screen-share.js'
import { CallQualityController, type Quality, type QualitySample } from './call-quality.js'
import { CallClockController } from './call-clock.js'
import { Ringtone } from './ringtone.js'
import { MissedCalls, missedFromEvent, type MissedCall } from './missed-calls.js'
import { deviceMenu, endedNotice, iconButton, missedList, stage, translator, type T } from './rtc-call.parts.js'

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
  'rtc-peer-media': MediaState
  'rtc-device': { kind: DeviceKind; deviceId: string }
  'rtc-quality': QualitySample
  'rtc-missed': { callId: string; from: string; reason: string }
}

export type { DeviceInfo, DeviceKind, MediaState, MissedCall, Quality, QualitySample, Strings }

declare global {
  interface GlobalEventHandlersEventMap {
    'rtc-registered': CustomEvent<RtcCallEventDetail['rtc-registered']>
    'rtc-standby': CustomEvent<RtcCallEventDetail['rtc-standby']>
    'rtc-incoming': CustomEvent<RtcCallEventDetail['rtc-incoming']>
    'rtc-connected': CustomEvent<RtcCallEventDetail['rtc-connected']>
    'rtc-ended': CustomEvent<RtcCallEventDetail['rtc-ended']>
    'rtc-transport': CustomEvent<RtcCallEventDetail['rtc-transport']>
    'rtc-error': CustomEvent<RtcCallEventDetail['rtc-error']>
    'rtc-peer-media': CustomEvent<RtcCallEventDetail['rtc-peer-media']>
    'rtc-device': CustomEvent<RtcCallEventDetail['rtc-device']>
    'rtc-quality': CustomEvent<RtcCallEventDetail['rtc-quality']>
    'rtc-missed': CustomEvent<RtcCallEventDetail['rtc-missed']>
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
 * The reference is docs/element.md; this comment is what custom-elements.json is generated from.
 *
 * @summary One-to-one video calls over sigpost (REST to send, SSE or long-poll to receive).
 * @property {MediaStream | null} localStream - Your camera and microphone (or your shared screen) while calling or in a call, else null.
 * @property {MediaStream | null} remoteStream - What the peer sends, in a call; else null.
 * @property {string | null} callId - The current call's id (calling, ringing, in a call), else null.
 * @fires {CustomEvent<{ name: string }>} rtc-registered - Registered and the event stream is ready.
 * @fires {CustomEvent<{ name: string }>} rtc-standby - Another tab of this browser holds the name; this one waits for it.
 * @fires {CustomEvent<{ callId: string, from: string }>} rtc-incoming - A call is ringing here.
 * @fires {CustomEvent<{ callId: string, peer: string }>} rtc-connected - The peer connection is connected.
 * @fires {CustomEvent<{ callId: string, reason: 'hangup' | 'cancelled' | 'rejected' | 'no_answer' | 'peer_gone' | 'failed' }>} rtc-ended - The call ended (both sides, also the side that ended it).
 * @fires {CustomEvent<{ transport: 'sse' | 'poll' }>} rtc-transport - The transport now in use.
 * @fires {CustomEvent<{ code: string, message: string }>} rtc-error - Something failed (`replaced`: this name was taken over elsewhere).
 * @fires {CustomEvent<{ audio: boolean, video: boolean, screen: boolean }>} rtc-peer-media - What the peer sends changed (mute, camera, screen share).
 * @fires {CustomEvent<{ kind: 'videoinput' | 'audioinput' | 'audiooutput', deviceId: string }>} rtc-device - A camera, microphone or speaker was chosen (`setDevice` or the menu).
 * @fires {CustomEvent<{ quality: 'good' | 'fair' | 'poor', rttMs: number | null, lossPercent: number }>} rtc-quality - The call's quality level changed.
 * @fires {CustomEvent<{ callId: string, from: string, reason: string }>} rtc-missed - A call was missed (it rang unanswered, or ended before it reached this page).
 * @slot - Extra content below the controls.
 * @csspart base - The wrapper of everything.
 * @csspart media - The video area.
 * @csspart remote-video - The peer's video.
 * @csspart local-video - Your own camera (or your shared screen).
 * @csspart peer-placeholder - Shown instead of the peer's video while the peer's camera is off.
 * @csspart peer-camera-off - The "camera off" line with the peer's name.
 * @csspart peer-badges - The row of labels over the peer's video.
 * @csspart peer-name - The peer's name over the video.
 * @csspart peer-muted - "… is muted", with a crossed-out microphone.
 * @csspart peer-sharing - "… is sharing the screen".
 * @csspart sharing-badge - "You are sharing your screen".
 * @csspart call-info - Duration and quality over the video.
 * @csspart duration - The call's duration (mm:ss).
 * @csspart quality - The quality indicator: bars (3 good, 2 fair, 1 poor) and its word; `data-quality` holds the level.
 * @csspart status - The state line (registered as…, calling…, connection state).
 * @csspart error - The last error.
 * @csspart register-form - Name field and Register button (state `idle`).
 * @csspart call-form - Peer field and Call button (state `registered`).
 * @csspart incoming - The incoming-call panel (Accept, Reject, Block).
 * @csspart controls - The button row while calling, ringing or in a call.
 * @csspart device-menu - The device pickers.
 * @csspart device-field - One picker (label and select) in the device menu.
 * @csspart device-select - Every device select.
 * @csspart videoinput-select - The camera select.
 * @csspart audioinput-select - The microphone select.
 * @csspart audiooutput-select - The speaker select.
 * @csspart ended - Why the last call ended (until the next action).
 * @csspart missed - The missed-call list.
 * @csspart missed-title - Its heading, with the count.
 * @csspart missed-list - The list itself.
 * @csspart missed-item - One missed call.
 * @csspart input - Text fields.
 * @csspart button - Every button.
 * @csspart icon-button - Every round icon button.
 * @csspart register-button - Register (state `idle`).
 * @csspart takeover-button - Use here (state `standby`: use the name in this tab).
 * @csspart unregister-button - Sign out.
 * @csspart call-button - Call.
 * @csspart accept-button - Accept an incoming call.
 * @csspart reject-button - Reject an incoming call.
 * @csspart block-button - Reject an incoming call and block its caller.
 * @csspart hangup-button - Hang up, or cancel a call that still rings.
 * @csspart mute-button - Mute / unmute the microphone.
 * @csspart camera-button - Camera off / on.
 * @csspart screen-button - Share the screen / stop sharing.
 * @csspart devices-button - Opens the device menu.
 * @csspart speaker-button - Unmutes the peer's audio where the browser blocked autoplay.
 * @csspart device-menu-close - Closes the device menu.
 * @csspart ended-dismiss - Dismisses why the last call ended.
 * @csspart call-back-button - Calls back a missed caller.
 * @csspart clear-missed-button - Empties the missed-call list.
 * @cssproperty --rtc-call-background - Background of the element.
 * @cssproperty --rtc-call-foreground - Text colour.
 * @cssproperty --rtc-call-muted-foreground - Secondary text (hints, times).
 * @cssproperty --rtc-call-accent - Background of primary buttons.
 * @cssproperty --rtc-call-accent-foreground - Text of primary buttons.
 * @cssproperty --rtc-call-accept - Background of Accept and Call back.
 * @cssproperty --rtc-call-accept-foreground - Their icon and text.
 * @cssproperty --rtc-call-secondary - Background of secondary and unpressed icon buttons.
 * @cssproperty --rtc-call-secondary-foreground - Their icon and text.
 * @cssproperty --rtc-call-pressed - Background of a pressed toggle (muted, camera off, sharing).
 * @cssproperty --rtc-call-pressed-foreground - Its icon and text.
 * @cssproperty --rtc-call-danger - Hang-up and reject buttons, errors.
 * @cssproperty --rtc-call-danger-foreground - Their icon and text.
 * @cssproperty --rtc-call-border - Border of the element.
 * @cssproperty --rtc-call-border-color - Borders of fields, menus and notices.
 * @cssproperty --rtc-call-input-background - Background of text fields and selects.
 * @cssproperty --rtc-call-radius - Corner radius.
 * @cssproperty --rtc-call-gap - Space between parts.
 * @cssproperty --rtc-call-padding - Inner padding.
 * @cssproperty --rtc-call-font - Font shorthand.
 * @cssproperty --rtc-call-max-width - Largest width of the element.
 * @cssproperty --rtc-call-button-size - Diameter of the round icon buttons.
 * @cssproperty --rtc-call-video-background - Behind the videos.
 * @cssproperty --rtc-call-overlay-background - Labels over the video (name, muted, duration, quality).
 * @cssproperty --rtc-call-overlay-foreground - Their text.
 * @cssproperty --rtc-call-local-video-width - Width of your own video, over the peer's.
 * @cssproperty --rtc-call-panel-background - Incoming-call panel, device menu, notices, missed calls.
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
  /** Plays a ringing tone (Web Audio) while a call rings here. */
  @property({ type: Boolean, reflect: true }) ringtone = false
  /**
   * Built-in language of every text: `en` (default) or `de` (`de-AT` etc. too). Empty: the nearest
   * ancestor's `lang` (the page's), else English.
   */
  @property() override lang = ''
  /** Microphone muted (the peer hears silence and sees the muted icon). Kept across calls. */
  @property({ type: Boolean }) muted = false
  /** Camera off (the peer sees "camera off" with your name). Kept across calls. */
  @property({ type: Boolean, attribute: 'camera-off' }) cameraOff = false

  @state() private _state: CallState = 'idle'
  @state() private _transportInUse: TransportKind | null = null
  @state() private _localStream: MediaStream | null = null
  @state() private _remoteStream: MediaStream | null = null
  @state() private _callId: string | null = null
  @state() private _peer = ''
  @state() private _connectionState: RTCPeerConnectionState | null = null
  @state() private _pending = false
  @state() private _error = ''
  @state() private _speakerBlocked = false
  @state() private _peerMedia: MediaState | null = null
  @state() private _sharing = false
  @state() private _menuOpen = false
  @state() private _ended: { callId: string; peer: string; reason: EndReason; durationMs: number } | null = null
  @state() private _overrides: Partial<Strings> = {}

  private client: SignalClient | undefined
  private session: CallSession | undefined
  private peerChannel: PeerMediaChannel | undefined
  /** The name a registration is under way for (so that reflecting `name` does not start another). */
  private registering: string | undefined
  private registeringDone: Promise<void> | undefined
  /** Leadership of the name among this browser's tabs (tab-leader.ts), while registered or in standby. */
  private tabs: TabLeader | undefined
  private readonly devicesCtl = new MediaDevicesController(this)
  private readonly quality_ = new CallQualityController(this, (sample) => this.emit('rtc-quality', sample))
  private readonly clock = new CallClockController(this)
  private readonly screen = new ScreenShare((sharing) => {
    this._sharing = sharing
    this.sendLocalMedia()
  })
  private readonly ring = new Ringtone()
  private readonly missed = new MissedCalls()

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
  /** In a call: the peer's microphone is on (true until the peer says otherwise); false outside a call. */
  get peerAudio(): boolean {
    return this.session ? (this._peerMedia?.audio ?? true) : false
  }
  /** In a call: the peer sends video, camera or screen (true until the peer says otherwise); false outside a call. */
  get peerVideo(): boolean {
    return this.session ? (this._peerMedia?.video ?? true) : false
  }
  /** In a call: the peer shares a screen. */
  get peerScreen(): boolean {
    return this.session ? (this._peerMedia?.screen ?? false) : false
  }
  /** You are sharing a screen. */
  get sharingScreen(): boolean {
    return this._sharing
  }
  /** `good` | `fair` | `poor`, `null` until first measured in a connected call. */
  get quality(): Quality | null {
    return this.quality_.quality
  }
  /** Missed calls, newest first, until `clearMissedCalls()`. */
  get missedCalls(): MissedCall[] {
    return this.missed.list.map((m) => ({ ...m }))
  }
  /** Why the last call ended, until the next action (register, call, unregister, an incoming call, Dismiss); else null. */
  get endedReason(): EndReason | null {
    return this._ended?.reason ?? null
  }

  /**
   * Every text by message id (see `strings.ts` / the README): the built-in set of `lang` with your
   * overrides on top. Assigning replaces the overrides (unknown ids and non-strings are ignored);
   * reading returns the merged set.
   */
  get strings(): Strings {
    return { ...builtIn(this.effectiveLang()), ...this._overrides }
  }
  set strings(overrides: Partial<Strings> | null | undefined) {
    this._overrides = sanitize(overrides)
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
    this.ring.stop()
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
    if (changed.has('muted') || changed.has('cameraOff')) this.applyLocalMedia()
    if (changed.has('_state' as keyof RtcCall) && this._state === 'idle') this._menuOpen = false
    if (changed.has('_state' as keyof RtcCall) || changed.has('ringtone')) {
      if (this._state === 'ringing' && this.ringtone) this.ring.start()
      else this.ring.stop()
    }
  }

  /**
   * Autoplay with sound needs a user gesture; without one play muted and offer a button to unmute.
   * Only `NotAllowedError` means that: an `AbortError` is a play() overtaken by a newer stream (each new
   * remote track brings a new MediaStream, e.g. audio then audio+video), which gets its own play().
   * https://html.spec.whatwg.org/multipage/media.html#dom-media-play
   */
  private playRemote(): void {
    const video = this.remoteVideo()
    if (!video) return
    // A new call tries with sound again; within a call, stay muted until the speaker button is pressed.
    video.muted = this._speakerBlocked
    void this.devicesCtl.applySpeaker(video).catch((error) => console.warn('rtc-call:', error))
    video.play().catch((error: DOMException) => {
      if (error?.name !== 'NotAllowedError' || video.srcObject !== this._remoteStream) return
      video.muted = true
      this._speakerBlocked = true
      void video.play().catch(() => {})
    })
  }

  private remoteVideo(): HTMLVideoElement | null {
    return this.renderRoot.querySelector<HTMLVideoElement>('video.remote')
  }

  // ---- public methods ------------------------------------------------------------------------------

  /**
   * Registers `name` and attaches the event stream; resolves once the stream is ready, or once this tab
   * waits in `standby` because another tab of this browser holds the name (`state` says which). With
   * `credentials` the name may be omitted (the JWT names the session).
   */
  register(name?: string): Promise<void> {
    return this.run(() => this.acquire(String(name ?? '').trim(), false), { next: true })
  }

  /**
   * Registers like register(), taking the name over: from the tab of this browser that holds it (open mode
   * too; that tab goes to standby), or, when no tab holds it, from the server (`takeOver: true`: ends the
   * name's session elsewhere; verified names only, open mode answers `forbidden`). Without a name: the
   * element's `name`, or with `credentials` alone the JWT's.
   */
  takeOver(name?: string): Promise<void> {
    return this.run(() => this.acquire(String(name ?? this.name ?? '').trim(), true), { next: true })
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
    }, { next: true })
  }

  /** Accepts the ringing incoming call. */
  accept(): Promise<void> {
    return this.run(async () => {
      const session = this.requireRinging('accept')
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
      await this.requireRinging('reject').reject(reason)
    })
  }

  /** Rejects the ringing incoming call and blocks its caller for the rest of this session (`block: true`). */
  block(): Promise<void> {
    return this.run(async () => {
      await this.requireRinging('block').reject('declined', { block: true })
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
    }, { next: true })
  }

  /** Names registered on the server now (`GET /v1/sessions`). */
  listNames(): Promise<string[]> {
    return this.run(async () => {
      const client = this.requireRegistered()
      const { names } = await client.request<{ names: string[] }>('GET', '/v1/sessions')
      return names
    }, { read: true })
  }

  /** Cameras, microphones and speakers: `[{kind, deviceId, label}]` (labels need camera permission first). */
  devices(): Promise<DeviceInfo[]> {
    return this.run(async () => (await this.devicesCtl.refresh()).map((d) => ({ ...d })), { read: true })
  }

  /**
   * Uses this camera (`videoinput`), microphone (`audioinput`) or speaker (`audiooutput`; '' = default)
   * from now on: in a call at once (replaceTrack / setSinkId), and for later calls and visits (remembered
   * per origin). Rejects with `device_not_found`, `media_denied`, `not_supported` (no setSinkId) or
   * `invalid_argument`.
   */
  setDevice(kind: DeviceKind, deviceId: string): Promise<void> {
    return this.run(async () => {
      if (!DEVICE_KINDS.includes(kind)) throw new SignalError('invalid_argument', `kind must be one of ${DEVICE_KINDS.join(', ')}`)
      deviceId = String(deviceId ?? '')
      const session = this.session
      if (kind === 'audiooutput') {
        await this.devicesCtl.applySpeaker(this.remoteVideo(), deviceId)
      } else {
        const trackKind = kind === 'audioinput' ? 'audio' : 'video'
        if (session?.localStream?.getTracks().some((t) => t.kind === trackKind)) {
          const track = await this.devicesCtl.openInput(kind, deviceId)
          // While sharing, the new camera waits in localStream for the share to end.
          await session.useLocalTrack(track, { send: !(trackKind === 'video' && this._sharing) })
          if (this.session === session) this._localStream = new MediaStream(session.localStream!.getTracks())
        }
      }
      this.devicesCtl.choose(kind, deviceId)
      this.emit('rtc-device', { kind, deviceId })
    })
  }

  /** Shares a screen (the browser asks which) in place of the camera; in a connected call only. */
  shareScreen(): Promise<void> {
    return this.run(async () => {
      const session = this.session
      if (!session || this._state !== 'in-call') throw new SignalError('invalid_state', 'Screens are shared in a call')
      await this.screen.start(session)
    })
  }

  /** Stops sharing; the camera (if any) is sent again. */
  stopScreenShare(): Promise<void> {
    return this.run(async () => {
      if (!this._sharing) throw new SignalError('invalid_state', 'No screen is being shared')
      await this.screen.stop()
    })
  }

  /** Empties the missed-call list. */
  clearMissedCalls(): void {
    this.missed.clear()
    this.requestUpdate()
  }

  // ---- internals -----------------------------------------------------------------------------------

  private effectiveLang(): string {
    return this.lang || (this.parentElement?.closest('[lang]') as HTMLElement | null)?.lang || 'en'
  }

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
   * Runs a public method: clears the last error unless it only reads (and with `next`, the last "why it ended": the user's next
   * action — register, call, unregister; an incoming call does too), and turns every failure into a coded
   * rejection + rtc-error.
   */
  private async run<T>(fn: () => Promise<T>, options: { next?: boolean; read?: boolean } = {}): Promise<T> {
    // A read (the names online, the devices) leaves the last error shown: a page may refresh it any time.
    if (!options.read) this._error = ''
    if (options.next) this._ended = null
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

  private requireRinging(what: string): CallSession {
    const session = this.session
    if (!session || session.role !== 'callee' || this._state !== 'ringing') {
      throw new SignalError('invalid_state', `There is no incoming call to ${what}`)
    }
    return session
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
      audio: this.devicesCtl.constraints('audioinput', !this.noAudio),
      video: this.devicesCtl.constraints('videoinput', !this.noVideo),
      // A missing or malformed attribute (NaN) keeps the default rather than disabling the limit.
      connectTimeoutMs: Number.isFinite(this.connectTimeout) && this.connectTimeout >= 0 ? this.connectTimeout : DEFAULT_CONNECT_TIMEOUT_MS,
      onLocalStream: (stream) => {
        if (this.session !== session) return
        this._localStream = stream
        this.applyLocalMedia()
      },
      onRemoteStream: (stream) => {
        if (this.session === session) this._remoteStream = stream
      },
      onConnectionState: (connectionState) => {
        if (this.session === session) this._connectionState = connectionState
      },
      onPeerConnection: (pc) => {
        if (this.session !== session) return
        this.peerChannel = new PeerMediaChannel(pc, (state) => this.onPeerMedia(session, state))
        this.sendLocalMedia()
      },
      onActive: () => {
        if (this.session === session) this._state = 'in-call'
      },
      onConnected: () => {
        if (this.session !== session) return
        this.clock.start()
        if (session.peerConnection) this.quality_.start(session.peerConnection)
        this.emit('rtc-connected', { callId: session.callId!, peer })
      },
      onEnded: (reason) => this.onEnded(session, reason),
      onWarning: (error) => console.warn('rtc-call:', error),
    })
    this.session = session
    this._peer = peer
    this._callId = incoming?.callId ?? null
    this._peerMedia = null
    return session
  }

  private onPeerMedia(session: CallSession, state: MediaState): void {
    if (this.session !== session) return
    const before = this._peerMedia
    this._peerMedia = state
    if (!before || before.audio !== state.audio || before.video !== state.video || before.screen !== state.screen) {
      this.emit('rtc-peer-media', { ...state })
    }
  }

  /** `muted` / `cameraOff` onto the local tracks, and tell the peer. */
  private applyLocalMedia(): void {
    const stream = this.session?.localStream
    for (const track of stream?.getAudioTracks() ?? []) track.enabled = !this.muted
    for (const track of stream?.getVideoTracks() ?? []) track.enabled = !this.cameraOff
    this.sendLocalMedia()
  }

  private sendLocalMedia(): void {
    const stream = this.session?.localStream
    const sharing = this._sharing
    this.peerChannel?.send({
      audio: !this.muted && (stream?.getAudioTracks().length ?? 0) > 0,
      video: sharing || (!this.cameraOff && (stream?.getVideoTracks().length ?? 0) > 0),
      screen: sharing,
    })
  }

  private onEnded(session: CallSession, reason: EndReason): void {
    if (this.session !== session) return
    this.session = undefined
    const durationMs = this.clock.stop()
    const rang = session.role === 'callee' && !session.active
    this.resetCall()
    if (this._state !== 'idle') this._state = this.client?.registration ? 'registered' : 'idle'
    // A call that was never placed (e.g. peer_not_found) did not exist: its failure is the rtc-error.
    if (!session.callId) return
    this._ended = { callId: session.callId, peer: session.peer, reason, durationMs }
    if (rang && (reason === 'cancelled' || reason === 'no_answer')) {
      this.addMissed({ callId: session.callId, from: session.peer, reason, at: new Date().toISOString() })
    }
    this.emit('rtc-ended', { callId: session.callId, reason })
  }

  private addMissed(entry: MissedCall): void {
    if (!this.missed.add(entry)) return
    this.requestUpdate()
    this.emit('rtc-missed', { callId: entry.callId, from: entry.from, reason: entry.reason })
  }

  private resetCall(): void {
    this.peerChannel?.close()
    this.peerChannel = undefined
    this.screen.release()
    this.quality_.stop()
    this.clock.stop()
    this._localStream = null
    this._remoteStream = null
    this._callId = null
    this._peer = ''
    this._connectionState = null
    this._speakerBlocked = false
    this._peerMedia = null
  }

  private onSignal(client: SignalClient, event: SignalEvent): void {
    if (client !== this.client) return
    if (event.event === 'incomingCall') {
      this.onIncoming(client, event.data)
      return
    }
    if (event.event === 'missedCall') {
      const entry = missedFromEvent(event.data)
      if (entry) this.addMissed(entry)
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
    this._ended = null
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

  private unblockSpeaker(): void {
    const video = this.remoteVideo()
    if (video) {
      video.muted = false
      void video.play().catch(() => {})
    }
    this._speakerBlocked = false
  }

  private toggleMenu(): void {
    this._menuOpen = !this._menuOpen
    if (this._menuOpen) {
      void this.devicesCtl.refresh().catch(() => {})
      void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLSelectElement>('.device-menu select')?.focus())
    }
  }

  private closeMenu(): void {
    this._menuOpen = false
    void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLButtonElement>('[part~="devices-button"]')?.focus())
  }

  private statusText(t: T): string {
    const name = this.client?.registration?.name ?? this.registering ?? ''
    const peer = this._peer
    switch (this._state) {
      case 'idle':
        return this.registering !== undefined ? t('registering', { name: this.registering }) : t('notRegistered')
      case 'standby':
        return t('standby', { name })
      case 'registered':
        return t('registeredAs', { name }) + (this._transportInUse ? ` (${this._transportInUse})` : '')
      case 'calling':
        return t('calling', { peer })
      case 'ringing':
        return t('incomingFrom', { peer })
      case 'in-call':
        return t('inCallWith', { peer, connection: t(`connection_${this._connectionState ?? 'new'}`) })
    }
  }

  private devicesButton(t: T) {
    return html`<span class="devices-toggle">${iconButton({
      part: 'devices-button',
      label: t('devices'),
      icon: icons.settings,
      onClick: () => this.toggleMenu(),
      expanded: this._menuOpen,
      controls: 'device-menu',
    })}</span>`
  }

  private renderControls(t: T) {
    const pending = this._pending
    switch (this._state) {
      case 'idle':
        return html`<form part="register-form" @submit=${this.onRegisterSubmit}>
          <label>${t('yourName')}
            <input part="input" name="name" required maxlength="64" autocomplete="off" spellcheck="false" .value=${this.name} />
          </label>
          <button part="button register-button" type="submit" ?disabled=${pending}>${t('register')}</button>
        </form>`
      case 'standby':
        return html`<div part="controls" class="controls">
          <button part="button takeover-button" type="button" ?disabled=${pending}
            @click=${() => void this.takeOver().catch(() => {})}>${t('useHere')}</button>
          <button part="button unregister-button" class="secondary" type="button" ?disabled=${pending}
            @click=${() => void this.unregister().catch(() => {})}>${t('signOut')}</button>
        </div>`
      case 'registered':
        return html`<form part="call-form" @submit=${this.onCallSubmit}>
          <label>${t('nameToCall')}
            <input part="input" name="peer" required maxlength="64" autocomplete="off" spellcheck="false" />
          </label>
          <button part="button call-button" type="submit" ?disabled=${pending}>${icons.phone}<span>${t('call')}</span></button>
          <button part="button devices-button" class="secondary devices-toggle" type="button" aria-expanded=${this._menuOpen ? 'true' : 'false'}
            aria-controls="device-menu" @click=${() => this.toggleMenu()}>${icons.settings}<span>${t('devices')}</span></button>
          <button part="button unregister-button" class="secondary" type="button" ?disabled=${pending}
            @click=${() => void this.unregister().catch(() => {})}>${t('signOut')}</button>
        </form>`
      case 'calling':
        return html`<div part="controls" class="controls" role="group" aria-label=${t('callControls')}>
          ${this.toggles(t)}
          ${this.devicesButton(t)}
          ${iconButton({ part: 'hangup-button', label: t('cancel'), icon: icons.hangUp, variant: 'danger', onClick: () => void this.hangUp().catch(() => {}) })}
        </div>`
      case 'ringing':
        return html`<div part="incoming" class="incoming" role="group" aria-label=${t('incomingFrom', { peer: this._peer })}>
          <p class="incoming-title"><span class="avatar" aria-hidden="true">${(this._peer[0] ?? '?').toUpperCase()}</span>
            <strong>${this._peer}</strong></p>
          <div part="controls" class="controls">
            ${iconButton({ part: 'accept-button', label: t('accept'), icon: icons.phone, variant: 'accept', disabled: pending, onClick: () => void this.accept().catch(() => {}) })}
            ${iconButton({ part: 'reject-button', label: t('reject'), icon: icons.hangUp, variant: 'danger', disabled: pending, onClick: () => void this.reject().catch(() => {}) })}
            ${iconButton({ part: 'block-button', label: t('block'), icon: icons.block, disabled: pending, onClick: () => void this.block().catch(() => {}) })}
          </div>
        </div>`
      case 'in-call':
        return html`<div part="controls" class="controls" role="group" aria-label=${t('callControls')}>
          ${this.toggles(t)}
          ${iconButton({
            part: 'screen-button',
            label: t('shareScreen'),
            icon: this._sharing ? icons.screenStop : icons.screen,
            pressed: this._sharing,
            disabled: !navigator.mediaDevices?.getDisplayMedia,
            onClick: () => void (this._sharing ? this.stopScreenShare() : this.shareScreen()).catch(() => {}),
          })}
          ${this.devicesButton(t)}
          ${this._speakerBlocked
            ? iconButton({ part: 'speaker-button', label: t('unmuteSpeaker'), icon: icons.speaker, onClick: () => this.unblockSpeaker() })
            : nothing}
          ${iconButton({ part: 'hangup-button', label: t('hangUp'), icon: icons.hangUp, variant: 'danger', onClick: () => void this.hangUp().catch(() => {}) })}
        </div>`
    }
  }

  /** Mute, camera and devices: the same while calling and in the call. */
  private toggles(t: T) {
    return html`${iconButton({
      part: 'mute-button',
      label: t('mute'),
      icon: this.muted ? icons.micOff : icons.mic,
      pressed: this.muted,
      disabled: this.noAudio,
      onClick: () => (this.muted = !this.muted),
    })}
    ${iconButton({
      part: 'camera-button',
      label: t('cameraOff'),
      icon: this.cameraOff ? icons.cameraOff : icons.camera,
      pressed: this.cameraOff,
      disabled: this.noVideo,
      onClick: () => (this.cameraOff = !this.cameraOff),
    })}`
  }

  protected override render() {
    const t = translator(this.strings)
    const inCall = this._state === 'calling' || this._state === 'in-call'
    const showMedia = this._localStream !== null || this._remoteStream !== null
    const sample = this.quality_.last
    const menuAvailable = this._state === 'registered' || inCall
    return html`<div part="base" class="base" lang=${this.effectiveLang()}>
      ${showMedia
        ? stage({
            t,
            peer: this._peer,
            remoteStream: this._remoteStream,
            localPreview: this.screen.stream ?? this._localStream,
            showLocal: this.screen.stream !== null || (this._localStream !== null && !this.noVideo),
            sharing: this._sharing,
            peerMedia: this._peerMedia,
            connected: this._state === 'in-call' && this.clock.startedAt !== null,
            elapsedMs: this.clock.elapsedMs,
            quality: this.quality_.quality,
            rttMs: sample?.rttMs ?? null,
            lossPercent: sample?.lossPercent ?? 0,
          })
        : nothing}
      <p part="status" class="status" role="status" aria-live="polite">${this.statusText(t)}</p>
      ${this.renderControls(t)}
      ${menuAvailable && this._menuOpen
        ? deviceMenu({
            t,
            id: 'device-menu',
            list: this.devicesCtl.list,
            chosen: (kind) => this.devicesCtl.chosenId(kind),
            canChooseSpeaker: typeof (HTMLMediaElement.prototype as { setSinkId?: unknown }).setSinkId === 'function',
            onChoose: (kind, deviceId) => void this.setDevice(kind, deviceId).catch(() => {}),
            onClose: () => this.closeMenu(),
          })
        : nothing}
      ${this._ended ? endedNotice(t, this._ended, () => (this._ended = null)) : nothing}
      ${this._error ? html`<p part="error" class="error" role="alert">${icons.block}<span>${this._error}</span></p>` : nothing}
      ${this.missed.list.length > 0
        ? missedList(t, this.missed.list, this._state === 'registered', (from) => void this.call(from).catch(() => {}), () => this.clearMissedCalls())
        : nothing}
      <slot></slot>
    </div>`
  }
}
