/**
 * The self-preview before the first call: registered and not yet in a call, the element shows your camera
 * (as Meet's and Whereby's pre-join screens do), so that a person sees they are in frame — or reads why the
 * camera cannot be used — before anyone calls. Only until the first call (placed or answered): after that
 * the camera stays off between calls. Never with `no-video` or `camera-off`.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { MediaError, openUserMedia } from '../media-error.js'
import type { MediaDevicesController } from './media-devices.js'
import { changes } from './call-status.js'
import type { CallState } from './rtc-call.events.js'

export interface PreviewHost extends ReactiveControllerHost {
  noVideo: boolean
  cameraOff: boolean
  readonly state: CallState
}

export class PreviewController implements ReactiveController {
  private _stream: MediaStream | null = null
  private _failure: MediaError | null = null
  private opening = false
  /** A call was placed or rang here: no preview any more. */
  private hadCall = false

  constructor(
    private readonly host: PreviewHost,
    private readonly devices: MediaDevicesController,
  ) {
    host.addController(this)
  }

  /** The camera while previewing, else null. */
  get stream(): MediaStream | null {
    return this._stream
  }
  /** Why the camera could not be previewed (which device, why), else null. */
  get failure(): MediaError | null {
    return this._failure
  }

  hostUpdated(): void {
    const state = this.host.state
    if (state === 'calling' || state === 'ringing' || state === 'in-call') this.hadCall = true
    const wanted = state === 'registered' && !this.hadCall && !this.host.noVideo && !this.host.cameraOff
    if (wanted && !this._stream && !this.opening && !this._failure) void this.open()
    if (!wanted) this.close()
  }

  hostDisconnected(): void {
    this.close()
  }

  private async open(): Promise<void> {
    this.opening = true
    try {
      const stream = await openUserMedia(false, this.devices.constraints('videoinput', true))
      this.opening = false
      // Gone on while the camera started (a call, camera off, signed out): let it go at once.
      const state = this.host.state
      if (state !== 'registered' || this.hadCall || this.host.noVideo || this.host.cameraOff) {
        for (const track of stream.getTracks()) track.stop()
        return
      }
      if (changes(this.host, this._stream, stream)) this._stream = stream
    } catch (error) {
      this.opening = false
      const failure = error instanceof MediaError ? error : new MediaError(['video'], 'in_use', String(error))
      if (changes(this.host, this._failure, failure)) this._failure = failure
    }
  }

  private close(): void {
    for (const track of this._stream?.getTracks() ?? []) track.stop()
    if (changes(this.host, this._stream, null)) this._stream = null
    // A later preview asks again (the user may have fixed the setting meanwhile).
    if (this.host.state !== 'registered' && changes(this.host, this._failure, null)) this._failure = null
  }
}
