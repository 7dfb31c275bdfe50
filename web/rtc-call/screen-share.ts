/**
 * Sharing a screen in a call: getDisplayMedia, the screen sent in place of the camera (replaceTrack, no
 * renegotiation when a camera was sent), and back to the camera when it stops — by `stop()` or by the
 * browser's own "Stop sharing" control, which ends the track (`ended` event).
 */
import { SignalError } from '../signal-client.js'
import type { CallSession } from '../call-session.js'

export class ScreenShare {
  /** The shared screen while sharing. */
  stream: MediaStream | null = null
  private session: CallSession | undefined

  constructor(private readonly onChange: (sharing: boolean) => void) {}

  get sharing(): boolean {
    return this.stream !== null
  }

  async start(session: CallSession): Promise<void> {
    if (this.stream) return
    if (!navigator.mediaDevices?.getDisplayMedia) throw new SignalError('not_supported', 'This browser cannot share a screen')
    let stream: MediaStream
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false })
    } catch (error) {
      throw new SignalError('media_denied', `No screen to share: ${(error as Error)?.name ?? error}`)
    }
    const track = stream.getVideoTracks()[0]
    if (session.ended || !track) {
      for (const t of stream.getTracks()) t.stop()
      throw new SignalError('invalid_state', 'The call has ended')
    }
    track.addEventListener('ended', () => void this.stop().catch(() => {}), { once: true })
    try {
      await session.sendTrack('video', track)
    } catch (error) {
      track.stop()
      throw error
    }
    this.session = session
    this.stream = stream
    this.onChange(true)
  }

  /** Back to the camera (or nothing, in a call without one). */
  async stop(): Promise<void> {
    const stream = this.stream
    const session = this.session
    if (!stream) return
    this.stream = null
    this.session = undefined
    for (const track of stream.getTracks()) track.stop()
    this.onChange(false)
    if (session && !session.ended) await session.sendTrack('video', session.localStream?.getVideoTracks()[0] ?? null)
  }

  /** The call ended: release the screen without touching the (closed) connection. */
  release(): void {
    const stream = this.stream
    this.stream = null
    this.session = undefined
    for (const track of stream?.getTracks() ?? []) track.stop()
    if (stream) this.onChange(false)
  }
}
