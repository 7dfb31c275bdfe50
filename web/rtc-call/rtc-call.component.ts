// <rtc-call>'s component: its properties, public methods and render; behaviour lives in the controllers beside it.
import { LitElement, html, nothing, type PropertyValues } from 'lit'
import { property, state } from 'lit/decorators.js'
import { DEFAULT_CONNECT_TIMEOUT_MS, type CallEndReason } from '../call-session.js'
import type { TransportChoice, TransportKind } from '../signal-client.js'
import { styles } from './rtc-call.styles.js'
import { builtIn, sanitize, type Strings } from './strings.js'
import { icons } from './icons.js'
import { MediaDevicesController, type DeviceInfo, type DeviceKind } from './media-devices.js'
import type { Quality } from './call-quality.js'
import type { MissedCall } from './missed-calls.js'
import { CallStatus } from './call-status.js'
import { ActionRunner } from './action-runner.js'
import { RegistrationController } from './registration.js'
import { CallFlow } from './call-flow.js'
import { IncomingCallController } from './incoming-call.js'
import { controls, statusText, type ControlActions } from './rtc-call.controls.js'
import { deviceMenu, endedNotice, errorText, missedList, previewStage, stage, translator } from './rtc-call.parts.js'
import { PreviewController } from './preview.js'
import { checkName } from './name-rule.js'
import { mediaNotice } from './media-notice.js'
import type { MediaChoice } from './call-flow.js'
import { resolveServer, SignalError } from '../signal-client.js'
import type { CallState, Credentials } from './rtc-call.events.js'

export type * from './rtc-call.events.js'

/** The public `{audio: false, video: false}` as the devices a call leaves out. */
const leftOut = (options: { audio?: boolean; video?: boolean } | undefined): MediaChoice => ({
  audio: options?.audio === false,
  video: options?.video === false,
})

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
 * @attr {string} state - Set by the element (read-only), the state as the `state` property: for the page's CSS and scripts.
 * @fires {CustomEvent<{ name: string }>} rtc-registered - Registered and the event stream is ready.
 * @fires {CustomEvent<{ name: string }>} rtc-standby - Another tab of this browser holds the name; this one waits for it.
 * @fires {CustomEvent<{ callId: string, from: string }>} rtc-incoming - A call is ringing here.
 * @fires {CustomEvent<{ callId: string, peer: string }>} rtc-connected - The peer connection is connected.
 * @fires {CustomEvent<{ callId: string, reason: 'hangup' | 'cancelled' | 'rejected' | 'no_answer' | 'peer_gone' | 'failed', cause?: 'relay_unreachable' | 'relay_refused' | 'no_relay' | 'ice_failed' }>} rtc-ended - The call ended (both sides, also the side that ended it); `cause` says why a `failed` call could not connect.
 * @fires {CustomEvent<{ transport: 'sse' | 'poll' }>} rtc-transport - The transport now in use.
 * @fires {CustomEvent<{ code: string, message: string, status?: number, answeredBy?: string }>} rtc-error - Something failed (`replaced`: this name was taken over elsewhere; `proxy_error`: something other than sigpost answered, with its HTTP `status` and, when it says, who it is).
 * @fires {CustomEvent<{ code: 'relay_unreachable' | 'relay_refused', message: string }>} rtc-warning - A TURN URL failed while gathering (once per URL, the message names it), even when the call connects another way.
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
 * @csspart go-on-button - Goes on without the camera or microphone that failed (receive-only without both).
 * @csspart hint - A quiet line under a control: the name rule before registering, what receive-only means.
 * @csspart block-confirm - Asks whether to block the caller, before Block does.
 * @csspart block-confirm-button - Blocks the caller, once confirmed.
 * @csspart block-back-button - Goes back without blocking.
 * @csspart calling - While calling: who is being called, with Cancel.
 * @csspart calling-name - The name being called.
 * @csspart preview - Your camera before the first call (the self-preview).
 * @csspart preview-video - The self-preview's video.
 * @csspart preview-failure - Why the camera cannot be previewed (which device, why).
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
  /** `auto` (long-poll at once, SSE once a probe stream proves that streaming works on this path), `sse` or `poll`. */
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

  @state() private _menuOpen = false
  /** Block was pressed on the incoming call: the panel asks to confirm. */
  @state() private _confirmBlock = false
  @state() private _overrides: Partial<Strings> = {}

  // Behaviour lives beside the element, one concern each; every one releases what it holds on removal.
  // Built bottom-up, each given what it needs: the registration hands its client's events straight to the
  // call flow and the incoming-call controller (nothing climbs back up through the element).
  private readonly devicesCtl = new MediaDevicesController(this)
  /** State line, errors, "why it ended", missed calls; fires the events. */
  private readonly status = new CallStatus(this)
  /** Runs the public methods (pending flag, coded rejection + rtc-error). */
  private readonly runner = new ActionRunner(this.status)
  /** The call in progress, with its media (flow.media). */
  private readonly flow = new CallFlow(this, this.status, this.devicesCtl)
  private readonly media = this.flow.media
  private readonly incoming = new IncomingCallController(this, this.status, this.flow)
  private readonly registration = new RegistrationController(this, this.status, this.runner, this.flow, this.incoming)
  /** Your camera before the first call. */
  private readonly preview = new PreviewController(this, this.devicesCtl)

  /** `idle` | `standby` | `registered` | `calling` | `ringing` | `in-call`. */
  get state(): CallState {
    return this.status.state
  }
  /** `sse` or `poll` while registered, else null. */
  get transportInUse(): TransportKind | null {
    return this.status.transportInUse
  }
  get localStream(): MediaStream | null {
    return this.media.localStream
  }
  get remoteStream(): MediaStream | null {
    return this.media.remoteStream
  }
  get callId(): string | null {
    return this.flow.callId
  }
  /** In a call: the peer's microphone is on (true until the peer says otherwise); false outside a call. */
  get peerAudio(): boolean {
    return this.flow.session ? (this.media.peerMedia?.audio ?? true) : false
  }
  /** In a call: the peer sends video, camera or screen (true until the peer says otherwise); false outside a call. */
  get peerVideo(): boolean {
    return this.flow.session ? (this.media.peerMedia?.video ?? true) : false
  }
  /** In a call: the peer shares a screen. */
  get peerScreen(): boolean {
    return this.flow.session ? (this.media.peerMedia?.screen ?? false) : false
  }
  /** You are sharing a screen. */
  get sharingScreen(): boolean {
    return this.media.sharing
  }
  /** `good` | `fair` | `poor`, `null` until first measured in a connected call. */
  get quality(): Quality | null {
    return this.flow.quality.quality
  }
  /** Missed calls, newest first, until `clearMissedCalls()`. */
  get missedCalls(): MissedCall[] {
    return this.status.missedCalls.map((m) => ({ ...m }))
  }
  /** Why the last call ended, until the next action (register, call, unregister, an incoming call, Dismiss); else null. */
  get endedReason(): CallEndReason | null {
    return this.status.ended?.reason ?? null
  }

  /**
   * Every text by message id (see `strings.ts` / docs/element.md "Text and languages"): the built-in set of `lang` with your
   * overrides on top. Assigning replaces the overrides (unknown ids and non-strings are ignored);
   * reading returns the merged set.
   */
  get strings(): Strings {
    return { ...builtIn(this.effectiveLang()), ...this._overrides }
  }
  set strings(overrides: Partial<Strings> | null | undefined) {
    this._overrides = sanitize(overrides)
  }

  // ---- lifecycle: connecting, page hide/show and removal are registration.ts's -------------------

  protected override updated(changed: PropertyValues<this>): void {
    // A server URL that cannot work is said at once (not after a request has failed for another reason).
    if (changed.has('server') && this.server) {
      try {
        resolveServer(this.server)
      } catch (error) {
        this.status.fail(error, { action: 'register' })
      }
    }
    // `state` as an attribute, for the page's CSS and scripts (e.g. no Call buttons of its own during a call).
    if (this.getAttribute('state') !== this.status.state) this.setAttribute('state', this.status.state)
    if (this._confirmBlock && this.status.state !== 'ringing') this._confirmBlock = false
    if (changed.has('name')) this.registration.nameChanged()
    if (changed.has('transport')) this.registration.transportChanged()
    if (changed.has('muted') || changed.has('cameraOff')) this.media.applyLocalMedia()
    // Signed out: the device menu closes (it cannot be opened again while idle).
    if (this.status.state === 'idle' && this._menuOpen) this._menuOpen = false
  }

  // ---- public methods ------------------------------------------------------------------------------

  /**
   * Registers `name` and attaches the event stream; resolves once the stream is ready, or once this tab
   * waits in `standby` because another tab of this browser holds the name (`state` says which). With
   * `credentials` the name may be omitted (the JWT names the session).
   */
  register(name?: string): Promise<void> {
    return this.runner.run(async () => {
      const wanted = String(name ?? '').trim()
      // The name rule, in the browser: a bad name is said in a sentence before anything is sent.
      if (wanted) checkName(wanted, 'name')
      resolveServer(this.server || location.origin)
      return this.registration.acquire(wanted, false)
    }, { next: true, context: { action: 'register' } })
  }

  /**
   * Registers like register(), taking the name over: from the tab of this browser that holds it (open mode
   * too; that tab goes to standby), or, when no tab holds it, from the server (`takeOver: true`: ends the
   * name's session elsewhere; verified names only, open mode answers `forbidden`). Without a name: the
   * element's `name`, or with `credentials` alone the JWT's.
   */
  takeOver(name?: string): Promise<void> {
    return this.runner.run(() => this.registration.acquire(String(name ?? this.name ?? '').trim(), true), { next: true })
  }

  /**
   * Calls `peerName`; resolves with the callId once the call is placed (not when it connects).
   * `{audio: false}` / `{video: false}` leave the microphone / camera out of this call (both: receive-only).
   */
  call(peerName: string, options: { audio?: boolean; video?: boolean } = {}): Promise<string> {
    const peer = String(peerName ?? '').trim()
    return this.runner.run(async () => {
      const client = this.registration.requireRegistered()
      checkName(peer, 'peer')
      if (peer === client.registration?.name) throw new SignalError('self_call', 'A call goes to another name')
      return this.flow.place(peer, leftOut(options))
    }, { next: true, context: { action: 'call', peer } })
  }

  /** Accepts the ringing incoming call; `{audio: false}` / `{video: false}` as for call() (both: receive-only). */
  accept(options: { audio?: boolean; video?: boolean } = {}): Promise<void> {
    return this.runner.run(() => this.incoming.accept(leftOut(options)), { context: { action: 'accept', peer: this.flow.peer } })
  }

  /** Rejects the ringing incoming call (`reason` defaults to `declined`). */
  reject(reason?: string): Promise<void> {
    return this.runner.run(() => this.incoming.reject(reason))
  }

  /** Rejects the ringing incoming call and blocks its caller for the rest of this session (`block: true`). */
  block(): Promise<void> {
    return this.runner.run(() => this.incoming.block())
  }

  /** Hangs up, or cancels an outgoing call that still rings. */
  hangUp(): Promise<void> {
    return this.runner.run(() => this.flow.hangUp())
  }

  /** Ends the session on the server (any call ends as `hangup`) and frees the name. */
  unregister(): Promise<void> {
    return this.runner.run(() => this.registration.unregister(), { next: true })
  }

  /** Names registered on the server now (`GET /v1/sessions`). */
  listNames(): Promise<string[]> {
    return this.runner.run(async () => {
      const client = this.registration.requireRegistered()
      const { names } = await client.request<{ names: string[] }>('GET', '/v1/sessions')
      return names
    }, { read: true })
  }

  /** Cameras, microphones and speakers: `[{kind, deviceId, label}]` (labels need camera permission first). */
  devices(): Promise<DeviceInfo[]> {
    return this.runner.run(async () => (await this.devicesCtl.refresh()).map((d) => ({ ...d })), { read: true })
  }

  /**
   * Uses this camera (`videoinput`), microphone (`audioinput`) or speaker (`audiooutput`; '' = default)
   * from now on: in a call at once (replaceTrack / setSinkId), and for later calls and visits (remembered
   * per origin). Rejects with `device_not_found`, `media_denied`, `not_supported` (no setSinkId) or
   * `invalid_argument`.
   */
  setDevice(kind: DeviceKind, deviceId: string): Promise<void> {
    return this.runner.run(() => this.media.setDevice(kind, deviceId))
  }

  /** Shares a screen (the browser asks which) in place of the camera; in a connected call only. */
  shareScreen(): Promise<void> {
    return this.runner.run(() => this.media.shareScreen())
  }

  /** Stops sharing; the camera (if any) is sent again. */
  stopScreenShare(): Promise<void> {
    return this.runner.run(() => this.media.stopScreenShare())
  }

  /** Empties the missed-call list. */
  clearMissedCalls(): void {
    this.status.clearMissed()
  }

  // ---- internals -----------------------------------------------------------------------------------

  private effectiveLang(): string {
    return this.lang || (this.parentElement?.closest('[lang]') as HTMLElement | null)?.lang || 'en'
  }

  // ---- UI ------------------------------------------------------------------------------------------

  /** What the built-in buttons do: the public methods (their failures are rtc-error and the error line). */
  private readonly actions: ControlActions = {
    register: (name) => void this.register(name).catch(() => {}),
    call: (peer) => void this.call(peer).catch(() => {}),
    takeOver: () => void this.takeOver().catch(() => {}),
    unregister: () => void this.unregister().catch(() => {}),
    accept: () => void this.accept().catch(() => {}),
    reject: () => void this.reject().catch(() => {}),
    block: () => {
      this._confirmBlock = false
      void this.block().catch(() => {})
    },
    confirmBlock: (asking) => {
      this._confirmBlock = asking
      // Keyboard users land on the question's first button (and back on Block when going back).
      const part = asking ? 'block-confirm-button' : 'block-button'
      void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLButtonElement>(`[part~="${part}"]`)?.focus())
    },
    hangUp: () => void this.hangUp().catch(() => {}),
    toggleMute: () => (this.muted = !this.muted),
    toggleCamera: () => (this.cameraOff = !this.cameraOff),
    toggleScreen: () => void (this.media.sharing ? this.stopScreenShare() : this.shareScreen()).catch(() => {}),
    toggleMenu: () => this.toggleMenu(),
    unblockSpeaker: () => this.media.unblockSpeaker(),
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

  protected override render() {
    const t = translator(this.strings)
    const { status, media, flow } = this
    const state = status.state
    const inCall = state === 'calling' || state === 'in-call'
    // Calling shows who is called (over your camera, if any); in a call the stage stays, receive-only too.
    const showMedia = inCall || media.localStream !== null || media.remoteStream !== null
    const showPreview = !showMedia && state === 'registered' && (this.preview.stream !== null || this.preview.failure !== null)
    const error = status.lastError
    const context = status.errorContext
    const sample = flow.quality.last
    const menuAvailable = state === 'registered' || inCall
    return html`<div part="base" class="base" lang=${this.effectiveLang()}>
      ${showMedia
        ? stage({
            t,
            peer: flow.peer,
            calling: state === 'calling',
            remoteStream: media.remoteStream,
            localPreview: media.screen.stream ?? media.localStream,
            showLocal: media.screen.stream !== null || (media.localStream !== null && !this.noVideo),
            sharing: media.sharing,
            peerMedia: media.peerMedia,
            connected: state === 'in-call' && flow.clock.startedAt !== null,
            elapsedMs: flow.clock.elapsedMs,
            quality: flow.quality.quality,
            rttMs: sample?.rttMs ?? null,
            lossPercent: sample?.lossPercent ?? 0,
          })
        : nothing}
      ${showPreview ? previewStage(t, this.preview.stream, this.preview.failure ? errorText(t, this.preview.failure, { server: '', secondsLeft: null }) : '') : nothing}
      <p part="status" class="status" role="status" aria-live="polite" data-transport=${status.transportInUse ?? ''}>${statusText(t, {
        state,
        name: this.registration.currentName,
        registering: this.registration.registering,
        peer: flow.peer,
        connectionState: flow.connectionState,
      })}</p>
      ${controls({
        t,
        state,
        pending: status.pending,
        name: this.name,
        peer: flow.peer,
        muted: this.muted,
        cameraOff: this.cameraOff,
        noAudio: this.noAudio,
        noVideo: this.noVideo,
        sharing: media.sharing,
        speakerBlocked: media.speakerBlocked,
        menuOpen: this._menuOpen,
        confirmingBlock: this._confirmBlock,
        on: this.actions,
      })}
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
      ${status.ended ? endedNotice(t, status.ended, () => (status.ended = null)) : nothing}
      ${status.error
        ? html`<div part="error" class="error" role="alert" data-code=${error?.code ?? ''}>
            <p>${icons.block}<span>${errorText(t, error, { ...context, server: this.server || location.origin, secondsLeft: status.secondsLeft })}</span></p>
            ${mediaNotice({
              t,
              error,
              // Go on without the failing device: the call again, or the answer while it still rings.
              canGoOn: (context.action === 'call' && state === 'registered') || (context.action === 'accept' && state === 'ringing'),
              noAudio: this.noAudio,
              noVideo: this.noVideo,
              onGoOn: (without) =>
                void (context.action === 'call' ? this.call(context.peer ?? '', without) : this.accept(without)).catch(() => {}),
            })}
          </div>`
        : nothing}
      ${status.missedCalls.length > 0
        ? missedList(t, status.missedCalls, state === 'registered', (from) => void this.call(from).catch(() => {}), () => this.clearMissedCalls())
        : nothing}
      <slot></slot>
    </div>`
  }
}
