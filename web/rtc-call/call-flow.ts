/**
 * The call in progress: one CallSession (call-session.ts) wired to the element — its streams and media
 * (call-media.ts, this flow's child), duration and quality once connected, the events of its callId, and what it leaves when it
 * ends (`rtc-ended`, the "why it ended" notice, a missed call). Placing and hanging up live here; answering
 * an incoming call lives in incoming-call.ts.
 */
import type { ReactiveControllerHost } from 'lit'
import { CallSession, DEFAULT_CONNECT_TIMEOUT_MS, type CallRole, type CallEndReason } from '../call-session.js'
import { SignalError, type SignalClient, type SignalEvent } from '../signal-client.js'
import type { FailureCause } from '../../protocol/names.js'
import type { MediaDevicesController } from './media-devices.js'
import { CallQualityController } from './call-quality.js'
import { CallClockController } from './call-clock.js'
import { CallMediaController, type CallMediaHost } from './call-media.js'
import { changes, type CallStatus } from './call-status.js'

/** Devices left out of one call: `{audio: true, video: true}` is receive-only. */
export interface MediaChoice {
  audio?: boolean
  video?: boolean
}

export interface CallFlowHost extends ReactiveControllerHost, CallMediaHost {
  noAudio: boolean
  noVideo: boolean
  iceTransportPolicy: RTCIceTransportPolicy
  connectTimeout: number
}

export class CallFlow {
  /** The call ringing, being placed or connected; undefined between calls. */
  session: CallSession | undefined
  /**
   * The registered client (calls go through it), set by the registration (registration.ts) whenever it
   * changes; undefined when signed out.
   */
  client: SignalClient | undefined
  readonly media: CallMediaController
  readonly quality: CallQualityController
  readonly clock: CallClockController
  private _callId: string | null = null
  private _peer = ''
  private _connectionState: RTCPeerConnectionState | null = null

  constructor(
    private readonly host: CallFlowHost,
    private readonly status: CallStatus,
    private readonly devices: MediaDevicesController,
  ) {
    this.media = new CallMediaController(host, status, devices, () => this.session)
    this.quality = new CallQualityController(host, (sample) => status.emit('rtc-quality', sample))
    this.clock = new CallClockController(host)
  }

  get callId(): string | null {
    return this._callId
  }
  private set callId(callId: string | null) {
    if (changes(this.host, this._callId, callId)) this._callId = callId
  }
  get peer(): string {
    return this._peer
  }
  private set peer(peer: string) {
    if (changes(this.host, this._peer, peer)) this._peer = peer
  }
  get connectionState(): RTCPeerConnectionState | null {
    return this._connectionState
  }
  private set connectionState(state: RTCPeerConnectionState | null) {
    if (changes(this.host, this._connectionState, state)) this._connectionState = state
  }

  /** Calls `peerName`; resolves with the callId once the call is placed (not when it connects). */
  async place(peerName: string, without: MediaChoice = {}): Promise<string> {
    if (this.session) throw new SignalError('invalid_state', 'Already in a call')
    const session = this.open('caller', String(peerName ?? '').trim())
    this.status.state = 'calling'
    try {
      const callId = await session.start(without)
      if (this.session === session) this.callId = callId
      return callId
    } catch (error) {
      session.end('failed')
      throw error
    }
  }

  /** Hangs up, or cancels an outgoing call that still rings. */
  async hangUp(): Promise<void> {
    const session = this.session
    if (!session) throw new SignalError('invalid_state', 'There is no call to hang up')
    await session.hangUp()
  }

  /** Ends the call at once, without asking the server (the registration goes away). */
  end(reason: CallEndReason): void {
    this.session?.end(reason)
  }

  /** An event of the registration's stream that is not a new call: the call's own go to its session. */
  handle(event: SignalEvent): void {
    const session = this.session
    if (!session) return
    // Until POST /v1/calls answers, the caller does not know its callId: the session sorts that out.
    if (session.callId === undefined || event.data?.callId === session.callId) session.handle(event)
  }

  /** A new call (`caller`), or one ringing here (`callee`, with the offer that came with it). */
  open(role: CallRole, peer: string, incoming?: { callId: string; sdpOffer: RTCSessionDescriptionInit }): CallSession {
    const client = this.client!
    const host = this.host
    const session: CallSession = new CallSession({
      client,
      role,
      peer,
      callId: incoming?.callId,
      remoteOffer: incoming?.sdpOffer,
      iceServers: client.registration?.iceServers ?? [],
      iceTransportPolicy: host.iceTransportPolicy === 'relay' ? 'relay' : 'all',
      audio: this.devices.constraints('audioinput', !host.noAudio),
      video: this.devices.constraints('videoinput', !host.noVideo),
      // A missing or malformed attribute (NaN) keeps the default rather than disabling the limit.
      connectTimeoutMs: Number.isFinite(host.connectTimeout) && host.connectTimeout >= 0 ? host.connectTimeout : DEFAULT_CONNECT_TIMEOUT_MS,
      onLocalStream: (stream) => {
        if (this.session !== session) return
        this.media.localStream = stream
        this.media.applyLocalMedia()
      },
      onRemoteStream: (stream) => {
        if (this.session === session) this.media.remoteStream = stream
      },
      onConnectionState: (connectionState) => {
        if (this.session === session) this.connectionState = connectionState
      },
      onPeerConnection: (pc) => {
        if (this.session !== session) return
        this.media.attach(pc, (state) => {
          if (this.session === session) this.media.peerChanged(state)
        })
      },
      onActive: () => {
        if (this.session === session) this.status.state = 'in-call'
      },
      onConnected: () => {
        if (this.session !== session) return
        this.clock.start()
        if (session.peerConnection) this.quality.start(session.peerConnection)
        this.status.emit('rtc-connected', { callId: session.callId!, peer })
      },
      onEnded: (reason, cause) => this.onEnded(session, reason, cause),
      onIceWarning: ({ code, message }) => {
        if (this.session === session) this.status.emit('rtc-warning', { code, message })
      },
      onWarning: (error) => console.warn('rtc-call:', error),
    })
    this.session = session
    this.peer = peer
    this.callId = incoming?.callId ?? null
    this.media.peerMedia = null
    return session
  }

  private onEnded(session: CallSession, reason: CallEndReason, cause: FailureCause | undefined): void {
    if (this.session !== session) return
    this.session = undefined
    const durationMs = this.clock.stop()
    const rang = session.role === 'callee' && !session.active
    this.reset()
    const status = this.status
    if (status.state !== 'idle') status.state = this.client?.registration ? 'registered' : 'idle'
    // A call that was never placed (e.g. peer_not_found) did not exist: its failure is the rtc-error.
    if (!session.callId) return
    // One notice at a time: a call that rang unanswered is in the missed-call list, not also "ended".
    if (rang && (reason === 'cancelled' || reason === 'no_answer')) {
      status.addMissed({ callId: session.callId, from: session.peer, reason, at: new Date().toISOString() })
    } else {
      status.ended = cause ? { callId: session.callId, peer: session.peer, reason, cause, durationMs } : { callId: session.callId, peer: session.peer, reason, durationMs }
    }
    status.emit('rtc-ended', cause ? { callId: session.callId, reason, cause } : { callId: session.callId, reason })
  }

  /** Nothing of the last call stays: peer channel, screen, quality, clock, streams, peer. */
  reset(): void {
    this.media.release()
    this.quality.stop()
    this.clock.stop()
    this.media.clear()
    this.callId = null
    this.peer = ''
    this.connectionState = null
  }
}
