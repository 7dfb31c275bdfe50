/**
 * What the element tells the page about itself: the call state, the transport in use, the last error, why
 * the last call ended and the missed calls. It fires the `rtc-*` events (action-runner.ts wraps the public
 * methods around it). One per element, shared by its controllers; every change re-renders the host (as
 * `@state()` would).
 */
import type { ReactiveControllerHost } from 'lit'
import { SignalError, type TransportKind } from '../signal-client.js'
import type { CallEndReason } from '../call-session.js'
import type { FailureCause } from '../../protocol/names.js'
import { MissedCalls, type MissedCall } from './missed-calls.js'
import type { CallState, RtcCallEventDetail } from './rtc-call.events.js'

/** The last call, shown as "Call with … ended" until the next action. */
export interface EndedCall {
  callId: string
  peer: string
  reason: CallEndReason
  /** With `failed`: why it could not connect. */
  cause?: FailureCause
  durationMs: number
}

/**
 * What `@state()` does for a controller's value: re-renders the host when it really changes (`Object.is`).
 * Setters call it before assigning: the update runs later (a microtask), after the assignment.
 */
export function changes(host: ReactiveControllerHost, before: unknown, after: unknown): boolean {
  if (Object.is(before, after)) return false
  host.requestUpdate()
  return true
}

function coded(error: unknown): SignalError {
  if (error instanceof SignalError) return error
  const e = error as { code?: unknown; message?: unknown }
  return new SignalError(typeof e?.code === 'string' ? e.code : 'internal', String(e?.message ?? error))
}

export class CallStatus {
  private _state: CallState = 'idle'
  private _transportInUse: TransportKind | null = null
  private _error = ''
  /** The last error shown, coded (the UI says some codes in its own sentence: proxy_error). */
  private _lastError: SignalError | null = null
  private _pending = false
  private _ended: EndedCall | null = null
  private readonly missed = new MissedCalls()

  constructor(private readonly host: ReactiveControllerHost & EventTarget) {}

  get state(): CallState {
    return this._state
  }
  set state(value: CallState) {
    if (changes(this.host, this._state, value)) this._state = value
  }
  /** `sse` or `poll` while registered, else null. */
  get transportInUse(): TransportKind | null {
    return this._transportInUse
  }
  set transportInUse(value: TransportKind | null) {
    if (changes(this.host, this._transportInUse, value)) this._transportInUse = value
  }
  /** The last error's message ('' when none is shown). */
  get error(): string {
    return this._error
  }
  set error(value: string) {
    if (changes(this.host, this._error, value)) this._error = value
    if (!value) this._lastError = null
  }
  /** The error shown, with its code, status and who answered; null when none is. */
  get lastError(): SignalError | null {
    return this._error ? this._lastError : null
  }
  /** A public method is under way (buttons that would start another are disabled). */
  get pending(): boolean {
    return this._pending
  }
  set pending(value: boolean) {
    if (changes(this.host, this._pending, value)) this._pending = value
  }
  get ended(): EndedCall | null {
    return this._ended
  }
  set ended(value: EndedCall | null) {
    if (changes(this.host, this._ended, value)) this._ended = value
  }

  /** Missed calls, newest first. */
  get missedCalls(): readonly MissedCall[] {
    return this.missed.list
  }

  addMissed(entry: MissedCall): void {
    if (!this.missed.add(entry)) return
    this.host.requestUpdate()
    this.emit('rtc-missed', { callId: entry.callId, from: entry.from, reason: entry.reason })
  }

  clearMissed(): void {
    this.missed.clear()
    this.host.requestUpdate()
  }

  emit<K extends keyof RtcCallEventDetail>(type: K, detail: RtcCallEventDetail[K]): void {
    this.host.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }))
  }

  fail(error: unknown): SignalError {
    const e = coded(error)
    this._lastError = e
    this.error = e.message
    this.host.requestUpdate()
    // An answer that was not sigpost's: the status, and who gave it when it said (docs/element.md "Events").
    const extra = e.code === 'proxy_error' ? { status: e.status, ...(e.answeredBy ? { answeredBy: e.answeredBy } : {}) } : {}
    this.emit('rtc-error', { code: e.code, message: e.message, ...extra })
    return e
  }
}
