/**
 * One call: media, the RTCPeerConnection, and its signalling over sigpost's REST endpoints.
 *
 * Modern APIs only (getUserMedia, addTrack, ontrack, srcObject). Trickle ICE: each local candidate is
 * POSTed as soon as it is gathered (candidates gathered while a POST is in flight go in the next one, in
 * order); remote candidates that arrive before the remote description is set are buffered and applied
 * right after it. Renegotiation and ICE restarts go over `/sdp` with the "perfect negotiation" pattern
 * (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example): the callee is the polite peer.
 * Every track and the connection are released when the call ends, however it ends.
 *
 * A call that cannot connect ends as `failed`: when ICE fails (after up to two ICE restarts), when gathering
 * ends without a single local candidate (ICE then has nothing to check and never fails by itself), and when
 * an accepted call is not connected within `connectTimeoutMs`. It ends with a `cause` (ice-diagnosis.ts),
 * which both sides report: the side that finds out tells the other with `DELETE /v1/calls/:callId
 * {"reason": "failed", "cause"}`, and the other ends with the cause it is told.
 */
import type { EndReason, FailureCause } from '../protocol/names.js'
import { IceDiagnosis, type IceWarning } from './ice-diagnosis.js'
import { SignalError, type SignalClient, type SignalEvent } from './signal-client.js'

/** How long an accepted call may take to connect before it ends as `failed`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000
/** How often a candidate POST that got no answer is tried again before it is reported. */
const CANDIDATE_RETRIES = 3

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

type Candidate = RTCIceCandidateInit | null

export class CallSession {
  readonly role: CallRole
  readonly peer: string
  callId: string | undefined
  localStream: MediaStream | undefined
  remoteStream: MediaStream | undefined
  /** Accepted by the callee (startCommunication / callResponse accepted). */
  active = false
  ended = false
  /** With `ended` as `failed`: why. */
  endCause: FailureCause | undefined
  connectionState: RTCPeerConnectionState = 'new'

  private readonly options: CallSessionOptions
  private pc: RTCPeerConnection | undefined
  /** Remote candidates that came before the remote description. */
  private pendingRemote: Candidate[] = []
  /** Local candidates not yet POSTed (e.g. gathered before the caller knows the callId). */
  private outbox: Candidate[] = []
  private sending = false
  /** Signalling work runs one step at a time, in arrival order. */
  private queue: Promise<unknown> = Promise.resolve()
  /** Events for this call that arrived before `POST /v1/calls` answered with its id. */
  private early: SignalEvent[] = []
  private makingOffer = false
  private ignoreOffer = false
  private iceRestarts = 0
  private connectedOnce = false
  /** Local candidates gathered in the current gathering round (an ICE restart gathers again from zero). */
  private gathered = 0
  /** The current gathering round ended without a single local candidate. */
  private noLocalCandidates = false
  /** Ends a call that was accepted but never connected (see connectTimeoutMs). */
  private connectWatchdog: ReturnType<typeof setTimeout> | undefined
  /** What gathering said about the TURN servers: the cause of a failure, and the warnings. */
  private readonly diagnosis: IceDiagnosis
  /** The caller's call failed before `POST /v1/calls` answered: it is ended as `failed` once placed. */
  private failedEarly: FailureCause | undefined

  constructor(options: CallSessionOptions) {
    this.options = options
    this.role = options.role
    this.peer = options.peer
    this.callId = options.callId
    this.diagnosis = new IceDiagnosis(options.iceServers, (warning) => this.options.onIceWarning?.(warning))
  }

  private get polite(): boolean {
    return this.role === 'callee'
  }

  /** Caller: media, offer, `POST /v1/calls`. Resolves with the callId once the call is placed. */
  async start(): Promise<string> {
    await this.openMedia()
    const pc = this.createPeerConnection()
    this.addLocalTracks(pc, null)
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
    void this.flushOutbox()
    const early = this.early.filter((event) => event.data?.callId === callId)
    this.early = []
    for (const event of early) this.handle(event)
    return callId
  }

  /** Callee: media, apply the offer and buffered candidates, answer, `POST …/accept`. */
  async accept(): Promise<void> {
    if (this.role !== 'callee' || this.pc) throw new SignalError('invalid_state', 'There is no incoming call to accept')
    await this.openMedia()
    await this.enqueue(async () => {
      this.throwIfEnded()
      const pc = this.createPeerConnection()
      await pc.setRemoteDescription(this.options.remoteOffer!)
      await this.applyPendingCandidates()
      this.addLocalTracks(pc, pc.getTransceivers())
      await pc.setLocalDescription(await pc.createAnswer())
    })
    this.throwIfEnded()
    try {
      await this.options.client.request('POST', `/v1/calls/${encodeURIComponent(this.callId!)}/accept`, {
        sdpAnswer: { type: 'answer', sdp: this.pc!.localDescription!.sdp },
      })
    } catch (error) {
      // The call ended while we answered (the caller cancelled, or its ICE failed): the stream tells how,
      // but this answer may come first — then the call itself does (GET), so that it ends as it did.
      const code = (error as SignalError)?.code
      if (!this.ended && (code === 'invalid_state' || code === 'call_not_found')) await this.endAsTheServerSays()
      throw error
    }
    this.markActive()
    void this.flushOutbox()
  }

  /** Callee, while ringing. `block: true` also blocks the caller for the rest of the session (API.md "Blocking"). */
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
        void this.enqueue(() => this.addRemoteCandidate(event.data.candidate ?? null))
        break
      case 'sdp':
        void this.enqueue(() => this.onRemoteDescription(event.data.description)).catch((e) => this.options.onWarning?.(e))
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
    return this.ended ? undefined : this.pc
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
    const pc = this.pc
    if (!pc || this.ended) return // the callee before accept: openMedia picks the device up
    const transceiver = pc.getTransceivers().find((t) => t.currentDirection !== 'stopped' && t.receiver.track.kind === kind)
    if (!transceiver) throw new SignalError('invalid_state', `This call has no ${kind}`)
    await transceiver.sender.replaceTrack(track)
    if (track && (transceiver.direction === 'recvonly' || transceiver.direction === 'inactive')) {
      if (this.localStream) transceiver.sender.setStreams(this.localStream)
      transceiver.direction = transceiver.direction === 'recvonly' ? 'sendrecv' : 'sendonly'
    }
  }

  /**
   * Releases every track and the connection; `onEnded` fires once. Idempotent. `failed` without a cause
   * takes the one this side's gathering found.
   */
  end(reason: CallEndReason, cause?: FailureCause): void {
    if (this.ended) return
    this.ended = true
    if (reason === 'failed') this.endCause = cause ?? this.diagnosis.cause()
    this.diagnosis.flush()
    clearTimeout(this.connectWatchdog)
    this.connectWatchdog = undefined
    if (this.pc) {
      this.pc.onicecandidate = null
      this.pc.onicecandidateerror = null
      this.pc.onicegatheringstatechange = null
      this.pc.ontrack = null
      this.pc.onconnectionstatechange = null
      this.pc.onnegotiationneeded = null
      this.pc.close()
    }
    for (const track of this.localStream?.getTracks() ?? []) track.stop()
    for (const track of this.remoteStream?.getTracks() ?? []) track.stop()
    this.pendingRemote = []
    this.outbox = []
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
  private fail(cause: FailureCause = this.diagnosis.cause()): void {
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
    if (!this.noLocalCandidates || this.ended) return
    if (this.connectedOnce && this.pc?.connectionState !== 'failed') return
    this.fatal(new SignalError('ice_failed', 'No network path to the other party: no local ICE candidate (TURN refused or unreachable?)'))
  }

  private async openMedia(): Promise<void> {
    const { audio, video } = this.options
    if (!audio && !video) return
    try {
      try {
        this.localStream = await navigator.mediaDevices.getUserMedia({ audio, video })
      } catch (error) {
        // A chosen device (constraints) that is gone: the call goes ahead with the default ones.
        const gone = ['OverconstrainedError', 'NotFoundError'].includes((error as Error)?.name)
        if (!gone || (typeof audio !== 'object' && typeof video !== 'object')) throw error
        this.localStream = await navigator.mediaDevices.getUserMedia({ audio: !!audio, video: !!video })
      }
    } catch (error) {
      const name = (error as Error)?.name ?? 'Error'
      throw new SignalError('media_denied', `No ${[audio && 'microphone', video && 'camera'].filter(Boolean).join(' or ')}: ${name}`)
    }
    if (this.ended) {
      for (const track of this.localStream.getTracks()) track.stop()
      throw new SignalError('invalid_state', 'The call has ended')
    }
    this.options.onLocalStream?.(this.localStream)
  }

  private createPeerConnection(): RTCPeerConnection {
    const pc = new RTCPeerConnection({
      iceServers: this.options.iceServers,
      iceTransportPolicy: this.options.iceTransportPolicy ?? 'all',
    })
    this.pc = pc
    this.options.onPeerConnection?.(pc)
    pc.onicecandidate = (event) => {
      const { candidate } = event
      // An empty `candidate` string is a per-m-line end-of-candidates (Firefox), not a candidate.
      if (candidate?.candidate) {
        this.gathered++
        this.diagnosis.candidate(candidate, (event as { url?: string | null }).url)
      }
      if (!candidate) this.diagnosis.gatheringComplete()
      // `null` is the end of gathering: relayed as `{"candidate": null}` (end-of-candidates).
      this.outbox.push(candidate ? candidate.toJSON() : null)
      void this.flushOutbox()
      if (!candidate && this.gathered === 0) {
        this.noLocalCandidates = true
        this.checkLocalCandidates()
      }
    }
    pc.onicecandidateerror = (event) => this.diagnosis.error(event as RTCPeerConnectionIceErrorEvent)
    pc.onicegatheringstatechange = () => {
      // A new gathering round (ICE restart): its candidates are counted from zero.
      if (pc.iceGatheringState === 'gathering') {
        this.gathered = 0
        this.noLocalCandidates = false
      }
      if (pc.iceGatheringState === 'complete') this.diagnosis.gatheringComplete()
    }
    pc.ontrack = ({ track }) => {
      const tracks = this.remoteStream?.getTracks() ?? []
      if (tracks.includes(track)) return
      // A new MediaStream object per track makes `srcObject` bindings see the change.
      this.remoteStream = new MediaStream([...tracks, track])
      this.options.onRemoteStream?.(this.remoteStream)
    }
    pc.onconnectionstatechange = () => {
      this.connectionState = pc.connectionState
      this.options.onConnectionState?.(pc.connectionState)
      if (pc.connectionState === 'connected') {
        this.iceRestarts = 0
        if (!this.connectedOnce) {
          this.connectedOnce = true
          clearTimeout(this.connectWatchdog)
          this.connectWatchdog = undefined
          this.options.onConnected?.()
        }
      } else if (pc.connectionState === 'failed') {
        if (this.iceRestarts < 2 && this.active) {
          this.iceRestarts++
          // Fires negotiationneeded; the offer with new ICE credentials goes over /sdp.
          pc.restartIce()
        } else {
          this.fail()
        }
      }
    }
    pc.onnegotiationneeded = () => {
      // The first offer/answer is explicit (POST /v1/calls, accept); later changes renegotiate over /sdp.
      if (!this.active) return
      void this.enqueue(async () => {
        try {
          this.makingOffer = true
          await pc.setLocalDescription()
          await this.sendDescription(pc.localDescription!)
        } finally {
          this.makingOffer = false
        }
      }).catch((error) => this.options.onWarning?.(error))
    }
    return pc
  }

  /** addTrack for each local track; kinds we do not send are still received (recvonly). */
  private addLocalTracks(pc: RTCPeerConnection, existing: RTCRtpTransceiver[] | null): void {
    const stream = this.localStream
    for (const track of stream?.getTracks() ?? []) pc.addTrack(track, stream!)
    if (existing) return // callee: the offer decides what is received
    for (const kind of ['audio', 'video'] as const) {
      const sends = stream?.getTracks().some((track) => track.kind === kind)
      if (!sends) pc.addTransceiver(kind, { direction: 'recvonly' })
    }
  }

  private async onAccepted(answer: RTCSessionDescriptionInit): Promise<void> {
    await this.pc!.setRemoteDescription(answer)
    this.markActive()
    await this.applyPendingCandidates()
  }

  private async addRemoteCandidate(candidate: Candidate): Promise<void> {
    const pc = this.pc
    if (this.ended) return
    if (!pc || !pc.remoteDescription) {
      this.pendingRemote.push(candidate)
      return
    }
    try {
      // `{candidate: ''}` is end-of-candidates for every m-line.
      await pc.addIceCandidate(candidate ?? { candidate: '' })
    } catch (error) {
      if (!this.ignoreOffer) this.options.onWarning?.(error)
    }
  }

  private async applyPendingCandidates(): Promise<void> {
    const pending = this.pendingRemote
    this.pendingRemote = []
    for (const candidate of pending) await this.addRemoteCandidate(candidate)
  }

  private async onRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    const pc = this.pc
    if (!pc) return
    const collision = description.type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable')
    this.ignoreOffer = !this.polite && collision
    if (this.ignoreOffer) return
    await pc.setRemoteDescription(description) // rolls back our own offer when polite and colliding
    await this.applyPendingCandidates()
    if (description.type === 'offer') {
      await pc.setLocalDescription()
      await this.sendDescription(pc.localDescription!)
    }
  }

  private async sendDescription(description: RTCSessionDescription): Promise<void> {
    await this.options.client.request('POST', `/v1/calls/${encodeURIComponent(this.callId!)}/sdp`, {
      description: { type: description.type, sdp: description.sdp },
    })
  }

  /**
   * POSTs queued local candidates in order; whatever gathers meanwhile goes in the next request.
   * A POST without an answer (`network_error`) is tried again, in order, up to CANDIDATE_RETRIES times
   * before it is reported: a blip must not lose candidates, and Firefox rejects a leaving page's pending
   * fetches before `pagehide` (seen with Firefox ESR: the navigation cancels the document's loads), which is
   * no failure of the call — by the retry the page has gone, or `pagehide` has ended the call.
   */
  private async flushOutbox(): Promise<void> {
    if (this.sending || this.callId === undefined) return
    this.sending = true
    let failures = 0
    try {
      while (this.outbox.length > 0 && !this.ended) {
        const end = this.outbox.indexOf(null)
        const batch = end === 0 ? [] : this.outbox.slice(0, end === -1 ? this.outbox.length : end)
        const body = batch.length === 0 ? { candidate: null } : batch.length === 1 ? { candidate: batch[0] } : { candidates: batch }
        try {
          await this.options.client.request('POST', `/v1/calls/${encodeURIComponent(this.callId)}/candidates`, body)
        } catch (error) {
          if ((error as SignalError)?.code !== 'network_error' || ++failures > CANDIDATE_RETRIES) throw error
          await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** failures))
          continue
        }
        failures = 0
        this.outbox.splice(0, Math.max(batch.length, 1))
      }
    } catch (error) {
      if (!this.ended) this.options.onWarning?.(error)
    } finally {
      this.sending = false
    }
  }
}
