/**
 * Entry of the `rtc-call.js` bundle: defines `<rtc-call>` (once, so that loading the module twice is harmless).
 */
import { RtcCall } from './rtc-call.component.js'

export { RtcCall }
export type * from './rtc-call.events.js'
export { SignalClient, SignalError } from '../signal-client.js'

if (!customElements.get('rtc-call')) customElements.define('rtc-call', RtcCall)

declare global {
  interface HTMLElementTagNameMap {
    'rtc-call': RtcCall
  }
}
