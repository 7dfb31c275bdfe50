/**
 * A call ringing here: `incomingCall` opens a callee session (or answers `busy` while in a call), the
 * ringtone plays while it rings (with `ringtone`), and Accept, Reject and Block answer it.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { SignalError, type SignalClient } from '../signal-client.js'
import type { CallSession } from '../call-session.js'
import { Ringtone } from './ringtone.js'
import type { CallFlow, MediaChoice } from './call-flow.js'
import { MediaError } from '../media-error.js'
import type { CallStatus } from './call-status.js'
import type { CallState } from './rtc-call.events.js'

export interface IncomingCallHost extends ReactiveControllerHost {
  autoAnswer: boolean
  ringtone: boolean
  accept(): Promise<void>
}

export class IncomingCallController implements ReactiveController {
  private readonly tone = new Ringtone()
  /** The state and `ringtone` the tone was last started or stopped for. */
  private toneFor: { state: CallState; ringtone: boolean } | undefined

  constructor(
    private readonly host: IncomingCallHost,
    private readonly status: CallStatus,
    private readonly flow: CallFlow,
  ) {
    host.addController(this)
  }

  hostUpdated(): void {
    const state = this.status.state
    const ringtone = this.host.ringtone
    if (this.toneFor?.state === state && this.toneFor.ringtone === ringtone) return
    this.toneFor = { state, ringtone }
    if (state === 'ringing' && ringtone) this.tone.start()
    else this.tone.stop()
  }

  hostDisconnected(): void {
    this.tone.stop()
  }

  /** `incomingCall` on the registration's stream. */
  onIncomingCall(client: SignalClient, data: { callId: string; from: string; sdpOffer: RTCSessionDescriptionInit }): void {
    if (this.flow.session) {
      // Our own call crossed theirs: we are busy.
      void client.request('POST', `/v1/calls/${encodeURIComponent(data.callId)}/reject`, { reason: 'busy' }).catch(() => {})
      return
    }
    this.status.ended = null
    this.flow.open('callee', data.from, data)
    this.status.state = 'ringing'
    this.status.emit('rtc-incoming', { callId: data.callId, from: data.from })
    if (this.host.autoAnswer) void this.host.accept().catch(() => {})
  }

  /** Answers; `without` leaves devices out (both: receive-only). */
  async accept(without: MediaChoice = {}): Promise<void> {
    const session = this.ringing('accept')
    try {
      await session.accept(without)
    } catch (error) {
      // The call ended while we were answering it (the caller cancelled, its ICE failed): rtc-ended has
      // said how; that the answer came too late is no error of the user's (nor of auto-answer's).
      if (session.ended) return
      // No camera or microphone: the call keeps ringing, and the user reads which device and why and may
      // answer without it (receive-only) or reject — the caller never reads "declined" for a device.
      if (error instanceof MediaError) throw error
      // Anything else that keeps us from taking the call: it could not connect (not a reject).
      void session.hangUp('failed').catch(() => {})
      throw error
    }
  }

  async reject(reason?: string): Promise<void> {
    await this.ringing('reject').reject(reason)
  }

  /** Rejects and blocks the caller for the rest of this session. */
  async block(): Promise<void> {
    await this.ringing('block').reject('declined', { block: true })
  }

  private ringing(what: string): CallSession {
    const session = this.flow.session
    if (!session || session.role !== 'callee' || this.status.state !== 'ringing') {
      throw new SignalError('invalid_state', `There is no incoming call to ${what}`)
    }
    return session
  }
}
