/**
 * One call's signalling lifecycle over sigpost's REST endpoints: media, placing, ringing, accepting,
 * rejecting, hanging up, the events of its callId, and how it ends. The RTCPeerConnection itself (trickle
 * ICE, perfect negotiation, ICE restarts) is peer-negotiation.ts's.
 *
 * Modern APIs only (getUserMedia, addTrack, ontrack, srcObject). Every track and the connection are
 * released when the call ends, however it ends.
 *
 * A call that cannot connect ends as `failed`: when ICE fails (after up to two ICE restarts), when gathering
 * ends without a single local candidate (ICE then has nothing to check and never fails by itself), and when
 * an accepted call is not connected within `connectTimeoutMs`. It ends with a `cause` (ice-diagnosis.ts),
 * which both sides report: the side that finds out tells the other with `DELETE /v1/calls/:callId
 * {"reason": "failed", "cause"}`, and the other ends with the cause it is told.
 */
import type { EndReason, FailureCause } from '../protocol/names.js'
import type { IceWarning } from './ice-diagnosis.js'
import { PeerNegotiation } from './peer-negotiation.js'
import { SignalError, type SignalClient, type SignalEvent } from './signal-client.js'
import { MediaError, openUserMedia } from './media-error.js'

/** How long an accepted call may take to connect before it ends as `failed`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000

export type CallRole = 'caller' | 'callee'
/** How a call ended for this side: the server's reasons (protocol/), or `failed` (it could not connect). */
export type CallEndReason = EndReason | 'failed'

export interface CallSessionOptions {
  client: Pick<SignalClient, 'request'>
  role: CallRole
  /** The other party's name. */
  peer: string
  /** Callee: the call's id and the caller's offer, from `incomingCall`. */
  callId?: string
  remoteOffer?: RTCSessionDescriptionInit
  iceServers: RTCIceServer[]
  iceTransportPolicy?: RTCIceTransportPolicy
  /** Microphone: false for none, true or constraints (e.g. a remembered `deviceId`) for getUserMedia. */
  audio: boolean | MediaTrackConstraints
  /** Camera, as `audio`. */
  video: boolean | MediaTrackConstraints
  /**
   * Milliseconds from the callee's accept to `connected` before the call ends as `failed`
   * (default DEFAULT_CONNECT_TIMEOUT_MS; 0 = wait forever).
   */
  connectTimeoutMs?: number
  onLocalStream?: (stream: MediaStream) => void
  onRemoteStream?: (stream: MediaStream) => void
  onConnectionState?: (state: RTCPeerConnectionState) => void
  /**
   * The RTCPeerConnection was created, before any offer or answer: the place to add what must be
   * negotiated with the call (e.g. a negotiated RTCDataChannel).
   */
  onPeerConnection?: (pc: RTCPeerConnection) => void
  /** The peer connection reached `connected` for the first time. */
  onConnected?: () => void
  /** The call is active: the callee accepted (both sides). */
  onActive?: () => void
  /** Called exactly once, whoever ended the call; `cause` with `failed` only. */
  onEnded?: (reason: CallEndReason, cause?: FailureCause) => void
  /** A TURN URL failed while gathering (once per URL), whether or not the call connects another way. */
  onIceWarning?: (warning: IceWarning) => void
  /** Something went wrong that does not end the call by itself (e.g. a renegotiation failed). */
  onWarning?: (error: unknown) => void
}

export class CallSession {
  readonly role: CallRole
  readonly peer: string
  callId: string | undefined
  localStream: MediaStream | undefined
  /** Accepted by the callee (startCommunication / callResponse accepted). */
  active = false
  ended = false
  /** With `ended` as `failed`: why. */
  endCause: FailureCause | undefined
  connectionState: RTCPeerConnectionState = 'new'

  private readonly options: CallSessionOptions
  /** The RTCPeerConnection and everything that negotiates it. */
  private readonly link: PeerNegotiation
  /** Signalling work runs one step at a time, in arrival order. */
  private queue: Promise<unknown> = Promise.resolve()
  /** Events for this call that arrived before `POST /v1/calls` answered with its id. */
  private early: SignalEvent[] = []
  private connectedOnce = false
  /** Ends a call that was accepted but never connected (see connectTimeoutMs). */
  private connectWatchdog: ReturnType<typeof setTimeout> | undefined
  /** The caller's call failed before `POST /v1/calls` answered: it is ended as `failed` once placed. */
  private failedEarly: FailureCause | undefined

  constructor(options: CallSessionOptions) {
    this.options = options
    this.role = options.role
    this.peer = options.peer
    this.callId = options.callId
    this.link = new PeerNegotiation({
      client: options.client,
      polite: options.role === 'callee',
      iceServers: options.iceServers,
      iceTransportPolicy: options.iceTransportPolicy,
      callId: () => this.callId,
      active: () => this.active,
      ended: () => this.ended,
      enqueue: (step) => this.enqueue(step),
      onPeerConnection: options.onPeerConnection,
      onRemoteStream: (stream) => this.options.onRemoteStream?.(stream),
      onConnectionState: (state) => this.onConnectionState(state),
      onNoLocalCandidates: () => this.checkLocalCandidates(),
      onIceWarning: (warning) => this.options.onIceWarning?.(warning),
      onWarning: (error) => this.options.onWarning?.(error),
    })
  }

  /**
   * @internal The RTCPeerConnection, ended or not: test/browser/resilience.test.ts reaches for it to force
   * an ICE restart (`element.flow.session.pc.restartIce()`).
   */
  get pc(): RTCPeerConnection | undefined {
    return this.link.pc
  }

  /** What the peer sends, once its first track came. */
  get remoteStream(): MediaStream | undefined {
    return this.link.remoteStream
  }

  /** Caller: media (`without` some: receive-only), offer, `POST /v1/calls`. Resolves with the callId once the call is placed. */
  async start(without: { audio?: boolean; video?: boolean } = {}): Promise<string> {
    await this.openMedia(without)
    const pc = this.link.create()
    this.link.addLocalTracks(this.localStream, null)
    await pc.setLocalDescription(await pc.createOffer())
    this.throwIfEnded()
    const { callId } = await this.options.client.request<{ callId: string }>('POST', '/v1/calls', {
      to: this.peer,
      sdpOffer: { type: 'offer', sdp: pc.localDescription!.sdp },
    })
    this.callId = callId
    if (this.ended) {
      // Hung up while the POST was in flight: end it on the server too.
      void this.options.client.request('DELETE', `/v1/calls/${encodeURIComponent(callId)}`).catch(() => {})
      throw new SignalError('invalid_state', 'The call was ended before it was placed')
    }
    if (this.failedEarly) {
      // It could not connect, and found out before it was placed (e.g. gathering ended with nothing while
      // the POST was in flight): it was placed all the same, so it ends now as `failed`, on both sides
      // and with its cause — the callee stops ringing at once and reads why, and call() resolves with the
      // callId that rtc-ended names. (Not placing it would need gathering to finish first: trickle ICE's
      // head start would be lost for every call.)
      void this.hangUp('failed', { cause: this.failedEarly }).catch(() => {})
      return callId
    }
    void this.link.flushOutbox()
    const early = this.early.filter((event) => event.data?.callId === callId)
    this.early = []
    for (const event of early) this.handle(event)
    return callId
  }

  /** Callee: media (`without` some: receive-only; a MediaError leaves the call ringing, to answer again), apply the offer and buffered candidates, answer, `POST …/accept`. */
  async accept(without: { audio?: boolean; video?: boolean } = {}): Promise<void> {
    if (this.role !== 'callee' || this.link.pc) throw new SignalError('invalid_state', 'There is no incoming call to accept')
    await this.openMedia(without)
    await this.enqueue(async () => {
      this.throwIfEnded()
      const pc = this.link.create()
      await pc.setRemoteDescription(this.options.remoteOffer!)
      await this.link.applyPendingCandidates()
      this.link.addLocalTracks(this.localStream, pc.getTransceivers())
      await pc.setLocalDescription(await pc.createAnswer())
    })
    this.throwIfEnded()
    try {
      await this.options.client.request('POST', `/v1/calls/${encodeURIComponent(this.callId!)}/accept`, {
        sdpAnswer: { type: 'answer', sdp: this.link.pc!.localDescription!.sdp },
      })
    } catch (error) {
      // The call ended while we answered (the caller cancelled, or its ICE failed): the stream tells how,
      // but this answer may come first — then the call itself does (GET), so that it ends as it did.
      const code = (error as SignalError)?.code
      if (!this.ended && (code === 'invalid_state' || code === 'call_not_found')) await this.endAsTheServerSays()
      throw error
    }
    this.markActive()
    void this.link.flushOutbox()
  }

  /** Callee, while ringing. `block: true` also blocks the caller for the rest of the session (docs/http-api.md "Blocking and call spam"). */
  async reject(reason = 'declined', options: { block?: boolean } = {}): Promise<void> {
    if (this.role !== 'callee' || this.active) throw new SignalError('invalid_state', 'There is no incoming call to reject')
    try {
      const body = options.block ? { reason, block: true } : { reason }
      await this.options.client.request('POST', `/v1/calls/${encodeURIComponent(this.callId!)}/reject`, body)
    } finally {
      this.end('rejected')
    }
  }

  /**
   * Hang up, or cancel while ringing (the callee's DELETE while ringing counts as a reject). `failed`
   * (with its cause) ends the call as failed for both: the DELETE carries `{"reason": "failed", "cause"}`.
   */
  async hangUp(reason?: CallEndReason, options: { keepalive?: boolean; cause?: FailureCause } = {}): Promise<void> {
    if (this.ended) return
    const local: CallEndReason = reason ?? (this.active ? 'hangup' : this.role === 'caller' ? 'cancelled' : 'rejected')
    const callId = this.callId
    this.end(local, options.cause)
    if (callId) {
      const body = local === 'failed' ? { reason: 'failed', cause: this.endCause } : undefined
      await this.options.client.request('DELETE', `/v1/calls/${encodeURIComponent(callId)}`, body, { keepalive: options.keepalive })
    }
  }

  /** An event of the session's stream that belongs to this call. */
  handle(event: SignalEvent): void {
    if (this.ended) return
    if (this.callId === undefined) {
      this.early.push(event)
      return
    }
    switch (event.event) {
      case 'callResponse': {
        const { data } = event
        if (data.response === 'accepted') void this.enqueue(() => this.onAccepted(data.sdpAnswer)).catch((e) => this.fatal(e, 'ice_failed'))
        else this.end('rejected')
        break
      }
      case 'startCommunication':
        this.markActive()
        break
      case 'iceCandidate':
        void this.enqueue(() => this.link.addRemoteCandidate(event.data.candidate ?? null))
        break
      case 'sdp':
        void this.enqueue(() => this.link.onRemoteDescription(event.data.description)).catch((e) => this.options.onWarning?.(e))
        break
      case 'stopCommunication':
        // `failed`: the other side found out first; its cause is the call's (stored with it on the server).
        this.end(event.data.reason ?? 'hangup', event.data.cause)
        break
    }
  }

  /** Mutes or unmutes the microphone (the track keeps flowing as silence, no renegotiation). */
  setAudioEnabled(enabled: boolean): void {
    for (const track of this.localStream?.getAudioTracks() ?? []) track.enabled = enabled
  }

  /** Turns the camera off or on (black frames while off, no renegotiation). */
  setVideoEnabled(enabled: boolean): void {
    for (const track of this.localStream?.getVideoTracks() ?? []) track.enabled = enabled
  }

  /** The call's RTCPeerConnection, once it exists (the caller's at once, the callee's from accept). */
  get peerConnection(): RTCPeerConnection | undefined {
    return this.ended ? undefined : this.link.pc
  }

  /**
   * Replaces the local camera or microphone track (another device): it joins `localStream` in place of
   * the old one, which is stopped; with `send` (default) the peer receives it at once (replaceTrack: no
   * renegotiation). The new track keeps the old one's `enabled` (a muted microphone stays muted).
   */
  async useLocalTrack(track: MediaStreamTrack, options: { send?: boolean } = {}): Promise<void> {
    if (this.ended) {
      track.stop()
      throw new SignalError('invalid_state', 'The call has ended')
    }
    const stream = this.localStream ?? new MediaStream()
    this.localStream = stream
    const old = stream.getTracks().find((t) => t.kind === track.kind)
    if (old) {
      track.enabled = old.enabled
      stream.removeTrack(old)
    }
    stream.addTrack(track)
    if (options.send !== false) await this.sendTrack(track.kind as 'audio' | 'video', track)
    old?.stop()
  }

  /**
   * Sends `track` for its kind instead of what is sent now (a screen instead of the camera); `localStream`
   * is left alone. A call that received this kind only (`no-video`) starts sending it, which renegotiates
   * over `/sdp`.
   */
  async sendTrack(kind: 'audio' | 'video', track: MediaStreamTrack | null): Promise<void> {
    await this.link.sendTrack(kind, track, this.localStream)
  }

  /**
   * Releases every track and the connection; `onEnded` fires once. Idempotent. `failed` without a cause
   * takes the one this side's gathering found.
   */
  end(reason: CallEndReason, cause?: FailureCause): void {
    if (this.ended) return
    this.ended = true
    if (reason === 'failed') this.endCause = cause ?? this.link.diagnosis.cause()
    this.link.diagnosis.flush()
    clearTimeout(this.connectWatchdog)
    this.connectWatchdog = undefined
    this.link.close()
    for (const track of this.localStream?.getTracks() ?? []) track.stop()
    for (const track of this.remoteStream?.getTracks() ?? []) track.stop()
    this.early = []
    this.options.onEnded?.(reason, this.endCause)
  }

  // ---- internals ----------------------------------------------------------------------------------

  /** Ends the call as `GET /v1/calls/:callId` says it ended (if it did), with its cause. */
  private async endAsTheServerSays(): Promise<void> {
    const call = await this.options.client
      .request<{ state?: string; endReason?: CallEndReason; endCause?: FailureCause }>('GET', `/v1/calls/${encodeURIComponent(this.callId!)}`)
      .catch(() => undefined)
    if (call?.state === 'ended') this.end(call.endReason ?? 'hangup', call.endCause)
  }

  private throwIfEnded(): void {
    if (this.ended) throw new SignalError('invalid_state', 'The call has ended')
  }

  private enqueue<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => (this.ended ? (undefined as T) : step()))
    this.queue = run.catch(() => {})
    return run
  }

  /** Something failed that ends the call: it could not connect, for `cause` (by default, what gathering found). */
  private fatal(error: unknown, cause?: FailureCause): void {
    this.options.onWarning?.(error)
    this.fail(cause)
  }

  /**
   * Ends the call as `failed`, for both sides. A caller whose call is not placed yet (POST /v1/calls in
   * flight) ends it once it is (start()): until then there is no call to tell the other side about.
   */
  private fail(cause: FailureCause = this.link.diagnosis.cause()): void {
    if (this.ended) return
    if (this.callId === undefined) {
      this.failedEarly ??= cause
      return
    }
    void this.hangUp('failed', { cause }).catch(() => {})
  }

  private markActive(): void {
    if (this.active || this.ended) return
    this.active = true
    this.options.onActive?.()
    if (this.ended) return
    // ICE's own failure detection needs at least one candidate pair; this bounds every other way of never
    // connecting (e.g. the peer's candidates never arrive, or checks never succeed nor time out).
    const timeout = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    if (!this.connectedOnce && timeout > 0 && Number.isFinite(timeout)) {
      this.connectWatchdog = setTimeout(() => {
        this.connectWatchdog = undefined
        if (!this.connectedOnce) this.fatal(new SignalError('ice_failed', `Not connected within ${timeout / 1000} s`))
      }, Math.min(timeout, 2 ** 31 - 1)) // longer delays overflow and fire at once
    }
    this.checkLocalCandidates()
  }

  /**
   * Gathering ended without a single local candidate (e.g. `relay` policy and TURN refused our credentials
   * with 401, or is unreachable): with no candidate pair ICE never starts checking, so it never reaches
   * `failed` either (Chromium stays `new`), and the call would wait forever. End it as `failed` at once:
   * with no local candidate there is no socket to check from, so nothing the other side does can help —
   * the callee must not ring on for a call that cannot connect (a callee gathers only once it accepts, so
   * it finds out right after). A caller's call not yet placed ends once it is (fail()).
   * After the first connection, a restart that gathers nothing ends the call only if it has already failed
   * (until then the previous candidate pair may still carry the media).
   */
  private checkLocalCandidates(): void {
    if (!this.link.noLocalCandidates || this.ended) return
    if (this.connectedOnce && this.link.pc?.connectionState !== 'failed') return
    this.fatal(new SignalError('ice_failed', 'No network path to the other party: no local ICE candidate (TURN refused or unreachable?)'))
  }

  /**
   * The camera and microphone asked for (`without` leaves some out: a call that goes on receive-only, or
   * without the device that failed). A failure is a MediaError naming the device and why (media-error.ts).
   */
  private async openMedia(without: { audio?: boolean; video?: boolean } = {}): Promise<void> {
    const audio = without.audio ? false : this.options.audio
    const video = without.video ? false : this.options.video
    if (!audio && !video) return
    try {
      this.localStream = await openUserMedia(audio, video)
    } catch (error) {
      // A chosen device (constraints) that is gone: the call goes ahead with the default ones.
      const gone = error instanceof MediaError && error.why === 'missing'
      if (!gone || (typeof audio !== 'object' && typeof video !== 'object')) throw error
      this.localStream = await openUserMedia(!!audio, !!video)
    }
    if (this.ended) {
      for (const track of this.localStream.getTracks()) track.stop()
      throw new SignalError('invalid_state', 'The call has ended')
    }
    this.options.onLocalStream?.(this.localStream)
  }

  private onConnectionState(state: RTCPeerConnectionState): void {
    this.connectionState = state
    this.options.onConnectionState?.(state)
    if (state === 'connected') {
      if (!this.connectedOnce) {
        this.connectedOnce = true
        clearTimeout(this.connectWatchdog)
        this.connectWatchdog = undefined
        this.options.onConnected?.()
      }
    } else if (state === 'failed') {
      if (!(this.active && this.link.restartIce())) this.fail()
    }
  }

  private async onAccepted(answer: RTCSessionDescriptionInit): Promise<void> {
    await this.link.pc!.setRemoteDescription(answer)
    this.markActive()
    await this.link.applyPendingCandidates()
  }
}
