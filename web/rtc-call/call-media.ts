/**
 * The call's media as the element shows and sends it: the local and remote streams, `muted` / `cameraOff`
 * on the local tracks, what each side tells the other it sends (peer-media.ts), the shared screen, a device
 * switch in the call, and playing the peer with sound where the browser allows it.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { SignalError } from '../signal-client.js'
import type { CallSession } from '../call-session.js'
import { PeerMediaChannel, type MediaState } from './peer-media.js'
import { DEVICE_KINDS, type DeviceKind, type MediaDevicesController } from './media-devices.js'
import { ScreenShare } from './screen-share.js'
import { changes, type CallStatus } from './call-status.js'

export interface CallMediaHost extends ReactiveControllerHost {
  muted: boolean
  cameraOff: boolean
  readonly renderRoot: HTMLElement | DocumentFragment
}

export class CallMediaController implements ReactiveController {
  private _localStream: MediaStream | null = null
  private _remoteStream: MediaStream | null = null
  private _speakerBlocked = false
  private _peerMedia: MediaState | null = null
  private _sharing = false
  private peerChannel: PeerMediaChannel | undefined
  /** The remote stream last given to play(). */
  private played: MediaStream | null = null
  readonly screen = new ScreenShare((sharing) => {
    if (changes(this.host, this._sharing, sharing)) this._sharing = sharing
    this.sendLocalMedia()
  })

  constructor(
    private readonly host: CallMediaHost,
    private readonly status: CallStatus,
    private readonly devices: MediaDevicesController,
    /** The call in progress. */
    private readonly session: () => CallSession | undefined,
  ) {
    host.addController(this)
  }

  hostUpdated(): void {
    // A new peer stream is in the video element now.
    if (this._remoteStream === this.played) return
    this.played = this._remoteStream
    if (this._remoteStream) this.playRemote()
  }

  get localStream(): MediaStream | null {
    return this._localStream
  }
  set localStream(stream: MediaStream | null) {
    if (changes(this.host, this._localStream, stream)) this._localStream = stream
  }
  get remoteStream(): MediaStream | null {
    return this._remoteStream
  }
  set remoteStream(stream: MediaStream | null) {
    if (changes(this.host, this._remoteStream, stream)) this._remoteStream = stream
  }
  /** What the peer says it sends; null until it said so (and outside a call). */
  get peerMedia(): MediaState | null {
    return this._peerMedia
  }
  set peerMedia(state: MediaState | null) {
    if (changes(this.host, this._peerMedia, state)) this._peerMedia = state
  }
  /** The browser refused to play the peer with sound: it plays muted until the speaker button. */
  get speakerBlocked(): boolean {
    return this._speakerBlocked
  }
  get sharing(): boolean {
    return this._sharing
  }

  /** The call's peer connection exists: tell the peer over it what we send, and hear what it sends. */
  attach(pc: RTCPeerConnection, onPeerMedia: (state: MediaState) => void): void {
    this.peerChannel = new PeerMediaChannel(pc, onPeerMedia)
    this.sendLocalMedia()
  }

  /** The peer says what it sends now (`rtc-peer-media` when that changed). */
  peerChanged(state: MediaState): void {
    const before = this._peerMedia
    this.peerMedia = state
    if (!before || before.audio !== state.audio || before.video !== state.video || before.screen !== state.screen) {
      this.status.emit('rtc-peer-media', { ...state })
    }
  }

  /** `muted` / `cameraOff` onto the local tracks, and tell the peer. */
  applyLocalMedia(): void {
    const stream = this.session()?.localStream
    for (const track of stream?.getAudioTracks() ?? []) track.enabled = !this.host.muted
    for (const track of stream?.getVideoTracks() ?? []) track.enabled = !this.host.cameraOff
    this.sendLocalMedia()
  }

  private sendLocalMedia(): void {
    const stream = this.session()?.localStream
    const sharing = this._sharing
    this.peerChannel?.send({
      audio: !this.host.muted && (stream?.getAudioTracks().length ?? 0) > 0,
      video: sharing || (!this.host.cameraOff && (stream?.getVideoTracks().length ?? 0) > 0),
      screen: sharing,
    })
  }

  /** The call ended: close the peer channel and release the screen. */
  release(): void {
    this.peerChannel?.close()
    this.peerChannel = undefined
    this.screen.release()
  }

  /** Nothing of the last call stays on screen. */
  clear(): void {
    this.localStream = null
    this.remoteStream = null
    this.blockSpeaker(false)
    this.peerMedia = null
  }

  /**
   * Uses this camera, microphone or speaker from now on: in a call at once (replaceTrack / setSinkId), and
   * for later calls (`devices.choose`); fires `rtc-device`.
   */
  async setDevice(kind: DeviceKind, deviceId: string): Promise<void> {
    if (!DEVICE_KINDS.includes(kind)) throw new SignalError('invalid_argument', `kind must be one of ${DEVICE_KINDS.join(', ')}`)
    deviceId = String(deviceId ?? '')
    const session = this.session()
    if (kind === 'audiooutput') {
      await this.devices.applySpeaker(this.remoteVideo(), deviceId)
    } else {
      const trackKind = kind === 'audioinput' ? 'audio' : 'video'
      if (session?.localStream?.getTracks().some((t) => t.kind === trackKind)) {
        const track = await this.devices.openInput(kind, deviceId)
        // While sharing, the new camera waits in localStream for the share to end.
        await session.useLocalTrack(track, { send: !(trackKind === 'video' && this._sharing) })
        if (this.session() === session) this.localStream = new MediaStream(session.localStream!.getTracks())
      }
    }
    this.devices.choose(kind, deviceId)
    this.status.emit('rtc-device', { kind, deviceId })
  }

  async shareScreen(): Promise<void> {
    const session = this.session()
    if (!session || this.status.state !== 'in-call') throw new SignalError('invalid_state', 'Screens are shared in a call')
    await this.screen.start(session)
  }

  async stopScreenShare(): Promise<void> {
    if (!this._sharing) throw new SignalError('invalid_state', 'No screen is being shared')
    await this.screen.stop()
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
    void this.devices.applySpeaker(video).catch((error) => console.warn('rtc-call:', error))
    video.play().catch((error: DOMException) => {
      if (error?.name !== 'NotAllowedError' || video.srcObject !== this._remoteStream) return
      video.muted = true
      this.blockSpeaker(true)
      void video.play().catch(() => {})
    })
  }

  /** The speaker button: play the peer with sound (a user gesture allows it). */
  unblockSpeaker(): void {
    const video = this.remoteVideo()
    if (video) {
      video.muted = false
      void video.play().catch(() => {})
    }
    this.blockSpeaker(false)
  }

  private blockSpeaker(blocked: boolean): void {
    if (changes(this.host, this._speakerBlocked, blocked)) this._speakerBlocked = blocked
  }

  private remoteVideo(): HTMLVideoElement | null {
    return this.host.renderRoot.querySelector<HTMLVideoElement>('video.remote')
  }
}
