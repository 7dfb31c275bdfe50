/**
 * What each side sends (microphone on, camera on, screen shared), told to the other over an RTCDataChannel
 * negotiated with the call: both sides create it with the same id before the offer/answer, so it needs no
 * signalling of its own and opens with the connection (https://w3c.github.io/webrtc-pc/#dom-rtcdatachannelinit-negotiated).
 *
 * Wire format, one JSON message per change and one when the channel opens:
 * `{"type": "media", "audio": true, "video": false, "screen": false}`. Anything else is ignored, so a later
 * version may add message types.
 */

export interface MediaState {
  audio: boolean
  video: boolean
  /** Sharing a screen; `video` is then true as well. */
  screen: boolean
}

/** The channel's SCTP stream id; both sides must use the same. */
export const PEER_MEDIA_CHANNEL_ID = 0
const LABEL = 'sigpost-media'

export class PeerMediaChannel {
  private readonly channel: RTCDataChannel
  private local: MediaState | undefined

  constructor(pc: RTCPeerConnection, private readonly onPeerState: (state: MediaState) => void) {
    this.channel = pc.createDataChannel(LABEL, { negotiated: true, id: PEER_MEDIA_CHANNEL_ID, ordered: true })
    this.channel.onopen = () => this.flush()
    this.channel.onmessage = ({ data }) => {
      const state = parse(data)
      if (state) this.onPeerState(state)
    }
  }

  /** Tells the peer what we send now (again whenever it changes; queued until the channel is open). */
  send(state: MediaState): void {
    this.local = { ...state }
    this.flush()
  }

  close(): void {
    this.channel.onopen = null
    this.channel.onmessage = null
    this.channel.close()
  }

  private flush(): void {
    if (!this.local || this.channel.readyState !== 'open') return
    try {
      this.channel.send(JSON.stringify({ type: 'media', ...this.local }))
    } catch {
      // Closing underneath us: the call is ending, nobody is left to tell.
    }
  }
}

function parse(data: unknown): MediaState | undefined {
  if (typeof data !== 'string' || data.length > 1024) return undefined
  let message: any
  try {
    message = JSON.parse(data)
  } catch {
    return undefined
  }
  if (message?.type !== 'media') return undefined
  const screen = message.screen === true
  return { audio: message.audio === true, video: message.video === true || screen, screen }
}
