// The element's public types and the detail of each `rtc-*` event, below every file that uses them (no import climbs back to the component).
import type { CallEndReason } from '../call-session.js'
import type { FailureCause } from '../../protocol/names.js'
import type { TransportKind } from '../signal-client.js'
import type { DeviceInfo, DeviceKind } from './media-devices.js'
import type { MediaState } from './peer-media.js'
import type { Quality, QualitySample } from './call-quality.js'
import type { MissedCall } from './missed-calls.js'
import type { Strings } from './strings.js'

export type { CallEndReason, DeviceInfo, DeviceKind, MediaState, MissedCall, Quality, QualitySample, Strings }

/** The element's call state (docs/element.md "What the user sees"): one explicit union. */
export type CallState = 'idle' | 'standby' | 'registered' | 'calling' | 'ringing' | 'in-call'

/** Verified names: a JWT from the page's backend, or a function that fetches a fresh one per registration. */
export type Credentials = string | (() => string | Promise<string>)

/** `detail` of each event the element fires. */
export interface RtcCallEventDetail {
  'rtc-registered': { name: string }
  'rtc-standby': { name: string }
  'rtc-incoming': { callId: string; from: string }
  'rtc-connected': { callId: string; peer: string }
  /** `cause` with `failed` only: why the call could not connect (the same on both sides when they agree). */
  'rtc-ended': { callId: string; reason: CallEndReason; cause?: FailureCause }
  'rtc-transport': { transport: TransportKind }
  /**
   * `proxy_error` (an answer that is not sigpost's: a proxy's or a captive portal's) also has the HTTP
   * `status` and, when the answer names it (`Via`, `Server`), who answered (`answeredBy`).
   */
  'rtc-error': {
    code: string
    /** The detail for developers (the server's message, a DOMException's name); the UI shows a sentence of `strings` instead. */
    message: string
    status?: number
    answeredBy?: string
    /** `media_denied`: the devices that cannot be used, and why. */
    devices?: ('camera' | 'microphone')[]
    why?: 'denied' | 'blocked' | 'missing' | 'in_use' | 'unavailable'
    /** `rate_limited` (e.g. a redial cool-down): seconds until it may be tried again (the UI counts down). */
    retryAfter?: number
  }
  /** A TURN URL failed while gathering (once per URL), even when the call connects another way. */
  'rtc-warning': { code: Extract<FailureCause, 'relay_unreachable' | 'relay_refused'>; message: string }
  'rtc-peer-media': MediaState
  'rtc-device': { kind: DeviceKind; deviceId: string }
  'rtc-quality': QualitySample
  'rtc-missed': { callId: string; from: string; reason: string }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'rtc-registered': CustomEvent<RtcCallEventDetail['rtc-registered']>
    'rtc-standby': CustomEvent<RtcCallEventDetail['rtc-standby']>
    'rtc-incoming': CustomEvent<RtcCallEventDetail['rtc-incoming']>
    'rtc-connected': CustomEvent<RtcCallEventDetail['rtc-connected']>
    'rtc-ended': CustomEvent<RtcCallEventDetail['rtc-ended']>
    'rtc-transport': CustomEvent<RtcCallEventDetail['rtc-transport']>
    'rtc-error': CustomEvent<RtcCallEventDetail['rtc-error']>
    'rtc-warning': CustomEvent<RtcCallEventDetail['rtc-warning']>
    'rtc-peer-media': CustomEvent<RtcCallEventDetail['rtc-peer-media']>
    'rtc-device': CustomEvent<RtcCallEventDetail['rtc-device']>
    'rtc-quality': CustomEvent<RtcCallEventDetail['rtc-quality']>
    'rtc-missed': CustomEvent<RtcCallEventDetail['rtc-missed']>
  }
}
