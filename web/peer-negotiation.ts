/**
 * The call's RTCPeerConnection (call-session.ts runs the call around it): creating it, trickle ICE both
 * ways, perfect negotiation over `/sdp`, ICE restarts, and what gathering found (ice-diagnosis.ts).
 *
 * Trickle ICE: each local candidate is POSTed as soon as it is gathered (candidates gathered while a POST is
 * in flight go in the next one, in order); remote candidates that arrive before the remote description is
 * set are buffered and applied right after it. Renegotiation and ICE restarts go over `/sdp` with the
 * "perfect negotiation" pattern (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example): the callee
 * is the polite peer.
 */
import { IceDiagnosis, type IceWarning } from './ice-diagnosis.js'
import { SignalError, type SignalClient } from './signal-client.js'

/** How often a candidate POST that got no answer is tried again before it is reported. */
const CANDIDATE_RETRIES = 3

export type Candidate = RTCIceCandidateInit | null

/** What the negotiation needs of its call (call-session.ts), and what it tells it. */
export interface NegotiationOptions {
  client: Pick<SignalClient, 'request'>
  /** The callee is the polite peer. */
  polite: boolean
  iceServers: RTCIceServer[]
  iceTransportPolicy?: RTCIceTransportPolicy
  /** The call's id; undefined while the caller's `POST /v1/calls` is in flight (candidates wait). */
  callId(): string | undefined
  /** The callee accepted: from here on, changes renegotiate over `/sdp`. */
  active(): boolean
  ended(): boolean
  /** The call's signalling queue: one step at a time, in arrival order. */
  enqueue<T>(step: () => Promise<T>): Promise<T>
  /** Created, before any offer or answer (see CallSessionOptions.onPeerConnection). */
  onPeerConnection?: (pc: RTCPeerConnection) => void
  onRemoteStream(stream: MediaStream): void
  onConnectionState(state: RTCPeerConnectionState): void
  /** A gathering round ended without a single local candidate. */
  onNoLocalCandidates(): void
  onIceWarning?: (warning: IceWarning) => void
  onWarning?: (error: unknown) => void
}

export class PeerNegotiation {
  pc: RTCPeerConnection | undefined
  remoteStream: MediaStream | undefined
  /** The current gathering round ended without a single local candidate. */
  noLocalCandidates = false
  /** What gathering said about the TURN servers: the cause of a failure, and the warnings. */
  readonly diagnosis: IceDiagnosis
  /** Remote candidates that came before the remote description. */
  private pendingRemote: Candidate[] = []
  /** Local candidates not yet POSTed (e.g. gathered before the caller knows the callId). */
  private outbox: Candidate[] = []
  private sending = false
  private makingOffer = false
  private ignoreOffer = false
  private iceRestarts = 0
  /** Local candidates gathered in the current gathering round (an ICE restart gathers again from zero). */
  private gathered = 0

  constructor(private readonly options: NegotiationOptions) {
    this.diagnosis = new IceDiagnosis(options.iceServers, (warning) => this.options.onIceWarning?.(warning))
  }

  create(): RTCPeerConnection {
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
        this.options.onNoLocalCandidates()
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
      this.options.onRemoteStream(this.remoteStream)
    }
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'connected') this.iceRestarts = 0
      this.options.onConnectionState(pc.connectionState)
    }
    pc.onnegotiationneeded = () => {
      // The first offer/answer is explicit (POST /v1/calls, accept); later changes renegotiate over /sdp.
      if (!this.options.active()) return
      void this.options.enqueue(async () => {
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

  /** After a failure: an ICE restart (at most two in a row between connections); false when none is left. */
  restartIce(): boolean {
    if (this.iceRestarts >= 2) return false
    this.iceRestarts++
    // Fires negotiationneeded; the offer with new ICE credentials goes over /sdp.
    this.pc!.restartIce()
    return true
  }

  /** addTrack for each local track; kinds we do not send are still received (recvonly). */
  addLocalTracks(stream: MediaStream | undefined, existing: RTCRtpTransceiver[] | null): void {
    const pc = this.pc!
    for (const track of stream?.getTracks() ?? []) pc.addTrack(track, stream!)
    if (existing) return // callee: the offer decides what is received
    for (const kind of ['audio', 'video'] as const) {
      const sends = stream?.getTracks().some((track) => track.kind === kind)
      if (!sends) pc.addTransceiver(kind, { direction: 'recvonly' })
    }
  }

  /**
   * Sends `track` for its kind instead of what is sent now; a call that received this kind only starts
   * sending it (with `stream`), which renegotiates over `/sdp`.
   */
  async sendTrack(kind: 'audio' | 'video', track: MediaStreamTrack | null, stream: MediaStream | undefined): Promise<void> {
    const pc = this.pc
    if (!pc || this.options.ended()) return // the callee before accept: openMedia picks the device up
    const transceiver = pc.getTransceivers().find((t) => t.currentDirection !== 'stopped' && t.receiver.track.kind === kind)
    if (!transceiver) throw new SignalError('invalid_state', `This call has no ${kind}`)
    await transceiver.sender.replaceTrack(track)
    if (track && (transceiver.direction === 'recvonly' || transceiver.direction === 'inactive')) {
      if (stream) transceiver.sender.setStreams(stream)
      transceiver.direction = transceiver.direction === 'recvonly' ? 'sendrecv' : 'sendonly'
    }
  }

  async addRemoteCandidate(candidate: Candidate): Promise<void> {
    const pc = this.pc
    if (this.options.ended()) return
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

  async applyPendingCandidates(): Promise<void> {
    const pending = this.pendingRemote
    this.pendingRemote = []
    for (const candidate of pending) await this.addRemoteCandidate(candidate)
  }

  async onRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    const pc = this.pc
    if (!pc) return
    const collision = description.type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable')
    this.ignoreOffer = !this.options.polite && collision
    if (this.ignoreOffer) return
    await pc.setRemoteDescription(description) // rolls back our own offer when polite and colliding
    await this.applyPendingCandidates()
    if (description.type === 'offer') {
      await pc.setLocalDescription()
      await this.sendDescription(pc.localDescription!)
    }
  }

  /**
   * POSTs queued local candidates in order; whatever gathers meanwhile goes in the next request.
   * A POST without an answer (`network_error`) is tried again, in order, up to CANDIDATE_RETRIES times
   * before it is reported: a blip must not lose candidates, and Firefox rejects a leaving page's pending
   * fetches before `pagehide` (seen with Firefox ESR: the navigation cancels the document's loads), which is
   * no failure of the call — by the retry the page has gone, or `pagehide` has ended the call.
   */
  async flushOutbox(): Promise<void> {
    const callId = this.options.callId()
    if (this.sending || callId === undefined) return
    this.sending = true
    let failures = 0
    try {
      while (this.outbox.length > 0 && !this.options.ended()) {
        const end = this.outbox.indexOf(null)
        const batch = end === 0 ? [] : this.outbox.slice(0, end === -1 ? this.outbox.length : end)
        const body = batch.length === 0 ? { candidate: null } : batch.length === 1 ? { candidate: batch[0] } : { candidates: batch }
        try {
          await this.options.client.request('POST', `/v1/calls/${encodeURIComponent(callId)}/candidates`, body)
        } catch (error) {
          if ((error as SignalError)?.code !== 'network_error' || ++failures > CANDIDATE_RETRIES) throw error
          await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** failures))
          continue
        }
        failures = 0
        this.outbox.splice(0, Math.max(batch.length, 1))
      }
    } catch (error) {
      if (!this.options.ended()) this.options.onWarning?.(error)
    } finally {
      this.sending = false
    }
  }

  /** Closes the connection and drops what is queued either way; its handlers are gone first. The tracks are the call's to stop. */
  close(): void {
    if (this.pc) {
      this.pc.onicecandidate = null
      this.pc.onicecandidateerror = null
      this.pc.onicegatheringstatechange = null
      this.pc.ontrack = null
      this.pc.onconnectionstatechange = null
      this.pc.onnegotiationneeded = null
      this.pc.close()
    }
    this.pendingRemote = []
    this.outbox = []
  }

  private async sendDescription(description: RTCSessionDescription): Promise<void> {
    await this.options.client.request('POST', `/v1/calls/${encodeURIComponent(this.options.callId()!)}/sdp`, {
      description: { type: description.type, sdp: description.sdp },
    })
  }
}
