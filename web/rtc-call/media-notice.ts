// "Continue without camera" under a media_denied error: the call placed again, or the ringing call answered, without the device that failed (receive-only when none is left).
import { html, nothing } from 'lit'
import { MediaError } from '../media-error.js'
import type { T } from './rtc-call.parts.js'

export interface MediaNoticeModel {
  t: T
  error: unknown
  /** The call can still go on (the caller is back to registered, the callee's call still rings). */
  canGoOn: boolean
  noAudio: boolean
  noVideo: boolean
  /** `{audio: false}` etc.: what the call goes on without. */
  onGoOn: (without: { audio?: boolean; video?: boolean }) => void
}

export function mediaNotice(m: MediaNoticeModel) {
  const { t, error } = m
  if (!(error instanceof MediaError) || !m.canGoOn) return nothing
  const audio = error.kinds.includes('audio')
  const video = error.kinds.includes('video')
  const receiveOnly = (audio || m.noAudio) && (video || m.noVideo)
  const id = audio && video ? 'goOnWithout_both' : audio ? 'goOnWithout_audio' : 'goOnWithout_video'
  return html`<div class="go-on">
    <button part="button go-on-button" class="secondary" type="button"
      @click=${() => m.onGoOn({ ...(audio ? { audio: false } : {}), ...(video ? { video: false } : {}) })}>${t(id)}</button>
    ${receiveOnly ? html`<small part="hint" class="hint">${t('receiveOnlyHint')}</small>` : nothing}
  </div>`
}
