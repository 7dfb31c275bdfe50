/**
 * Cameras, microphones and speakers: the list (`devices()`), the choice per kind, remembered per origin in
 * localStorage (so the next call, and the next visit, use it), and what a switch takes in a call
 * (a new track from getUserMedia for an input; `setSinkId` for the output).
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { SignalError } from '../signal-client.js'
import { toMediaError } from '../media-error.js'

export type DeviceKind = 'videoinput' | 'audioinput' | 'audiooutput'
export const DEVICE_KINDS: readonly DeviceKind[] = ['videoinput', 'audioinput', 'audiooutput']

export interface DeviceInfo {
  kind: DeviceKind
  deviceId: string
  label: string
}

/** localStorage key: `{"videoinput": "<deviceId>", ...}` (per origin, as localStorage is). */
export const DEVICES_STORAGE_KEY = 'sigpost.rtc-call.devices'

export class MediaDevicesController implements ReactiveController {
  /** The last list seen (empty until `refresh()`); labels are empty before the page had camera permission. */
  list: DeviceInfo[] = []
  private chosen: Partial<Record<DeviceKind, string>> = load()

  constructor(private readonly host: ReactiveControllerHost) {
    host.addController(this)
  }

  hostConnected(): void {
    navigator.mediaDevices?.addEventListener?.('devicechange', this.onDeviceChange)
  }

  hostDisconnected(): void {
    navigator.mediaDevices?.removeEventListener?.('devicechange', this.onDeviceChange)
  }

  private onDeviceChange = (): void => void this.refresh().catch(() => {})

  /** Every camera, microphone and speaker the browser lists. */
  async refresh(): Promise<DeviceInfo[]> {
    if (!navigator.mediaDevices?.enumerateDevices) return (this.list = [])
    const all = await navigator.mediaDevices.enumerateDevices()
    this.list = all
      .filter((d) => (DEVICE_KINDS as readonly string[]).includes(d.kind) && d.deviceId)
      .map((d) => ({ kind: d.kind as DeviceKind, deviceId: d.deviceId, label: d.label }))
    this.host.requestUpdate()
    return this.list
  }

  /** The chosen deviceId of a kind ('' = the browser's default). */
  chosenId(kind: DeviceKind): string {
    return this.chosen[kind] ?? ''
  }

  /** Remembers the choice (for this origin); '' forgets it. */
  choose(kind: DeviceKind, deviceId: string): void {
    if (deviceId) this.chosen[kind] = deviceId
    else delete this.chosen[kind]
    try {
      localStorage.setItem(DEVICES_STORAGE_KEY, JSON.stringify(this.chosen))
    } catch {
      // Storage disabled (private mode, sandboxed frame): the choice lasts for this page only.
    }
    this.host.requestUpdate()
  }

  /**
   * getUserMedia constraints for a call: `exact` (Chromium's permission prompt picks its own device for an
   * `ideal` one); CallSession falls back to the default devices when a remembered one is gone.
   */
  constraints(kind: 'audioinput' | 'videoinput', wanted: boolean): boolean | MediaTrackConstraints {
    const id = this.chosen[kind]
    return wanted && id ? { deviceId: { exact: id } } : wanted
  }

  /** A new track from exactly this input device (`exact`: a switch that silently fell back would lie). */
  async openInput(kind: 'audioinput' | 'videoinput', deviceId: string): Promise<MediaStreamTrack> {
    const constraint = deviceId ? { deviceId: { exact: deviceId } } : true
    try {
      const stream = await navigator.mediaDevices.getUserMedia(kind === 'audioinput' ? { audio: constraint } : { video: constraint })
      return stream.getTracks()[0]
    } catch (error) {
      const name = (error as Error)?.name
      if (name === 'OverconstrainedError' || name === 'NotFoundError') throw new SignalError('device_not_found', `No ${kind} ${deviceId}`)
      throw await toMediaError(error, kind === 'audioinput' ? 'audio' : 'video')
    }
  }

  /** Plays `media` on the chosen speaker; `not_supported` where the browser cannot choose (no setSinkId). */
  async applySpeaker(media: HTMLMediaElement | null, deviceId = this.chosenId('audiooutput')): Promise<void> {
    if (!media) return
    const sink = media as HTMLMediaElement & { setSinkId?: (id: string) => Promise<void> }
    if (typeof sink.setSinkId !== 'function') {
      if (deviceId) throw new SignalError('not_supported', 'This browser cannot choose the speaker')
      return
    }
    try {
      if (sink.sinkId !== deviceId) await sink.setSinkId(deviceId)
    } catch (error) {
      const name = (error as Error)?.name
      throw new SignalError(name === 'NotFoundError' ? 'device_not_found' : 'media_denied', `Cannot use speaker ${deviceId}: ${name ?? error}`)
    }
  }
}

function load(): Partial<Record<DeviceKind, string>> {
  try {
    const saved = JSON.parse(localStorage.getItem(DEVICES_STORAGE_KEY) ?? '{}')
    const out: Partial<Record<DeviceKind, string>> = {}
    for (const kind of DEVICE_KINDS) if (typeof saved?.[kind] === 'string' && saved[kind]) out[kind] = saved[kind]
    return out
  } catch {
    return {}
  }
}
