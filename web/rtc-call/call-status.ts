/**
 * What the element tells the page about itself: the call state, the transport in use, the last error, why
 * the last call ended and the missed calls. It fires the `rtc-*` events (action-runner.ts wraps the public
 * methods around it). One per element, shared by its controllers; every change re-renders the host (as
 * `@state()` would).
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { SignalError, type TransportKind } from '../signal-client.js'
import type { CallEndReason } from '../call-session.js'
import type { FailureCause } from '../../protocol/names.js'
import { MissedCalls, type MissedCall } from './missed-calls.js'
import { MediaError } from '../media-error.js'
import type { CallState, RtcCallEventDetail } from './rtc-call.events.js'

/** What was being done when an error came (the element's sentence for it may name the peer or the action). */
export interface ErrorContext {
  action?: 'register' | 'call' | 'accept'
  /** The name called (or calling). */
  peer?: string
}

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

/**
 * One notice at a time: the last error and "why the last call ended" replace each other. An error that
 * came with `Retry-After` (a redial cool-down) counts down each second and clears itself at 0.
 */
export class CallStatus implements ReactiveController {
  private _state: CallState = 'idle'
  private _transportInUse: TransportKind | null = null
  private _error = ''
  /** The last error shown, coded (the UI says some codes in its own sentence: proxy_error). */
  private _lastError: SignalError | null = null
  private _errorContext: ErrorContext = {}
  /** `performance.now()` at which the error shown expires (Retry-After), else null. */
  private errorUntil: number | null = null
  private countdown: ReturnType<typeof setInterval> | undefined
  private _pending = false
  private _ended: EndedCall | null = null
  private readonly missed = new MissedCalls()

  constructor(private readonly host: ReactiveControllerHost & EventTarget) {
    host.addController(this)
  }

  hostDisconnected(): void {
    this.stopCountdown()
  }

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
    if (!value) {
      this._lastError = null
      this._errorContext = {}
      this.stopCountdown()
    } else {
      this.ended = null
    }
  }
  /** What was being done when the error shown came. */
  get errorContext(): ErrorContext {
    return this._errorContext
  }
  /** Whole seconds until the error shown expires (its Retry-After), null when it does not. */
  get secondsLeft(): number | null {
    return this.errorUntil === null ? null : Math.max(0, Math.ceil((this.errorUntil - performance.now()) / 1000))
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
    if (value) this.error = ''
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

  private startCountdown(seconds: number): void {
    this.errorUntil = performance.now() + seconds * 1000
    let shown = seconds
    this.countdown = setInterval(() => {
      const left = this.secondsLeft ?? 0
      if (left === 0) this.error = ''
      else if (left !== shown) this.host.requestUpdate()
      shown = left
    }, 250)
  }

  private stopCountdown(): void {
    clearInterval(this.countdown)
    this.countdown = undefined
    this.errorUntil = null
  }

  emit<K extends keyof RtcCallEventDetail>(type: K, detail: RtcCallEventDetail[K]): void {
    this.host.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }))
  }

  fail(error: unknown, context: ErrorContext = {}): SignalError {
    const e = coded(error)
    this.error = ''
    this.error = e.message
    this._lastError = e
    this._errorContext = context
    if (e.retryAfterS) this.startCountdown(e.retryAfterS)
    this.host.requestUpdate()
    // An answer that was not sigpost's: the status, and who gave it when it said (docs/element.md "Events").
    const extra =
      e.code === 'proxy_error'
        ? { status: e.status, ...(e.answeredBy ? { answeredBy: e.answeredBy } : {}) }
        : e instanceof MediaError
          ? { devices: e.kinds.map((kind) => (kind === 'audio' ? 'microphone' : 'camera') as 'microphone' | 'camera'), why: e.why }
          : e.retryAfterS
            ? { retryAfter: e.retryAfterS }
            : {}
    this.emit('rtc-error', { code: e.code, message: e.message, ...extra })
    return e
  }
}
