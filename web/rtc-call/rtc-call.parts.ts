/**
 * The element's UI pieces as plain template functions: what each shows is passed in, what each does is
 * a callback, so that state stays with the element and its controllers (rtc-call.component.ts and the
 * files beside it). Every piece has a `part`.
 */
import { html, nothing, type TemplateResult } from 'lit'
import { live } from 'lit/directives/live.js'
import { icons } from './icons.js'
import { clock, en, format, type StringId, type Strings } from './strings.js'
import type { MediaState } from './peer-media.js'
import type { Quality } from './call-quality.js'
import type { DeviceInfo, DeviceKind } from './media-devices.js'
import type { MissedCall } from './missed-calls.js'

export type T = (id: StringId, values?: Record<string, string | number>) => string

export const translator = (strings: Strings): T => (id, values) => format(strings[id] ?? '', values)

/** What errorText needs to know besides the error: what was being done, and the server asked. */
export interface ErrorTextContext {
  action?: 'register' | 'call' | 'accept'
  peer?: string
  server: string
  /** Seconds until a Retry-After expires (a cool-down), null without one. */
  secondsLeft: number | null
}

/** Which devices failed, as the sentence names them. */
export function deviceWord(t: T, kinds: readonly string[]): string {
  return t(kinds.length > 1 ? 'device_both' : kinds[0] === 'audio' ? 'device_audio' : 'device_video')
}

/**
 * The error line: every code in a sentence of the element's (`error_<code>` in `strings`); the server's
 * own message is a detail for developers (rtc-error's `message`), never shown — it is English, and may be
 * a schema's or a route's. `proxy_error` names the status and who answered; `media_denied` which device
 * and why; a Retry-After counts down.
 */
export function errorText(t: T, error: { code: string; status: number; answeredBy?: string; kinds?: readonly string[]; why?: string } | null, c: ErrorTextContext): string {
  const code = error?.code ?? 'unknown'
  const peer = c.peer || '…'
  switch (code) {
    case 'proxy_error':
      return t(error!.answeredBy ? 'error_proxy_error_by' : 'error_proxy_error', { status: error!.status, by: error!.answeredBy ?? '' })
    case 'media_denied':
      return error?.why ? t(`media_${error.why}` as StringId, { device: deviceWord(t, error.kinds ?? []) }) : t('error_media_denied')
    case 'rate_limited':
      if (c.secondsLeft === null) return t('error_rate_limited')
      return t(c.action === 'call' ? 'error_cooldown' : 'error_rate_limited_in', { peer, seconds: c.secondsLeft })
  }
  const id = `error_${code}` as StringId
  return id in en ? t(id, { peer, server: c.server }) : t('error_unknown')
}

/** An icon button whose visible text is its accessible name (hidden visually where the bar is narrow). */
export function iconButton(options: {
  part: string
  label: string
  icon: TemplateResult
  onClick: () => void
  /** A toggle in its "on" state (muted, camera off, sharing): shown pressed; its label says what a press does. */
  on?: boolean
  disabled?: boolean
  variant?: 'danger' | 'accept' | 'plain'
  expanded?: boolean
  controls?: string
}): TemplateResult {
  const { part, label, icon, onClick, on, disabled, variant, expanded, controls } = options
  return html`<button type="button" part="button icon-button ${part}" class="icon-button ${variant ?? ''} ${on ? 'pressed' : ''}"
    title=${label} data-on=${on === undefined ? nothing : on ? 'true' : 'false'}
    aria-expanded=${expanded === undefined ? nothing : expanded ? 'true' : 'false'} aria-controls=${controls ?? nothing}
    ?disabled=${disabled} @click=${onClick}>${icon}<span class="label">${label}</span></button>`
}

export interface StageModel {
  t: T
  peer: string
  /** Calling (the peer has not answered): who is being called, over your preview. */
  calling: boolean
  remoteStream: MediaStream | null
  localPreview: MediaStream | null
  showLocal: boolean
  sharing: boolean
  peerMedia: MediaState | null
  connected: boolean
  elapsedMs: number
  quality: Quality | null
  rttMs: number | null
  lossPercent: number
}

/** The video area: the peer's video or "camera off", what the peer sends, duration and quality, your preview. */
export function stage(m: StageModel): TemplateResult {
  const { t, peer } = m
  const peerVideoOff = m.connected && m.peerMedia !== null && !m.peerMedia.video
  const peerMuted = m.connected && m.peerMedia !== null && !m.peerMedia.audio
  const bars = m.quality === 'good' ? 3 : m.quality === 'fair' ? 2 : m.quality === 'poor' ? 1 : 0
  return html`<div part="media" class="media">
    <video part="remote-video" class="remote" aria-label=${t('remoteVideo', { peer })}
      autoplay playsinline .srcObject=${live(m.remoteStream)} ?hidden=${peerVideoOff}></video>
    ${m.calling
      ? html`<div part="calling" class="placeholder calling">
          <span class="avatar" aria-hidden="true">${(peer[0] ?? '?').toUpperCase()}</span>
          <strong part="calling-name" class="name" title=${peer}>${peer}</strong>
          <span>${t('callingTitle')}</span>
        </div>`
      : nothing}
    ${peerVideoOff
      ? html`<div part="peer-placeholder" class="placeholder">
          <span class="avatar" aria-hidden="true">${(peer[0] ?? '?').toUpperCase()}</span>
          <span part="peer-camera-off">${icons.cameraOff}${t('peerCameraOff', { peer })}</span>
        </div>`
      : nothing}
    <div part="peer-badges" class="badges" aria-live="polite" ?hidden=${m.calling}>
      <span part="peer-name" class="pill name" title=${peer}>${peer}</span>
      ${peerMuted ? html`<span part="peer-muted" class="pill">${icons.micOff}<span>${t('peerMuted', { peer })}</span></span>` : nothing}
      ${m.connected && m.peerMedia?.screen ? html`<span part="peer-sharing" class="pill">${icons.screen}<span>${t('peerSharing', { peer })}</span></span>` : nothing}
    </div>
    ${m.connected
      ? html`<div part="call-info" class="info">
          <span part="duration" class="pill" role="timer" aria-label=${t('duration', { time: clock(m.elapsedMs) })}>${clock(m.elapsedMs)}</span>
          <span part="quality" class="pill quality" data-quality=${m.quality ?? 'measuring'}
            title=${m.rttMs === null ? '' : `RTT ${m.rttMs} ms, loss ${m.lossPercent} %`}>
            ${icons.bars(bars)}<span>${t(m.quality ? `quality_${m.quality}` : 'quality_measuring')}</span>
          </span>
        </div>`
      : nothing}
    ${m.sharing ? html`<span part="sharing-badge" class="pill sharing">${icons.screen}<span>${t('youAreSharing')}</span></span>` : nothing}
    <video part="local-video" class="local" aria-label=${m.sharing ? t('localScreen') : t('localVideo')} autoplay playsinline
      .muted=${true} .srcObject=${live(m.localPreview)} ?hidden=${!m.showLocal}></video>
  </div>`
}

/** Before the first call: your camera, or why it cannot be used (a sentence: which device, why). */
export function previewStage(t: T, stream: MediaStream | null, failure: string): TemplateResult {
  return html`<div part="media preview" class="media preview">
    ${stream
      ? html`<video part="preview-video" class="preview-video" aria-label=${t('preview')} autoplay playsinline .muted=${true} .srcObject=${live(stream)}></video>`
      : html`<div class="placeholder"><span part="preview-failure">${icons.cameraOff}<span>${failure}</span></span></div>`}
  </div>`
}

export interface DeviceMenuModel {
  t: T
  id: string
  list: DeviceInfo[]
  chosen: (kind: DeviceKind) => string
  canChooseSpeaker: boolean
  onChoose: (kind: DeviceKind, deviceId: string) => void
  onClose: () => void
}

const KIND_LABEL: Record<DeviceKind, StringId> = { videoinput: 'camera', audioinput: 'microphone', audiooutput: 'speaker' }

/** Camera, microphone and speaker pickers (native selects: keyboard and screen readers know them). */
export function deviceMenu(m: DeviceMenuModel): TemplateResult {
  const { t } = m
  const kinds: DeviceKind[] = m.canChooseSpeaker ? ['videoinput', 'audioinput', 'audiooutput'] : ['videoinput', 'audioinput']
  return html`<div part="device-menu" class="device-menu" id=${m.id} role="group" aria-label=${t('deviceSettings')}
    @keydown=${(e: KeyboardEvent) => e.key === 'Escape' && m.onClose()}>
    ${kinds.map((kind) => {
      const options = m.list.filter((d) => d.kind === kind && d.deviceId !== 'default')
      const chosen = m.chosen(kind)
      return html`<div part="device-field" class="field"><label for="${m.id}-${kind}">${t(KIND_LABEL[kind])}</label>
        <select id="${m.id}-${kind}" part="device-select ${kind}-select" @change=${(e: Event) => m.onChoose(kind, (e.target as HTMLSelectElement).value)}>
          <option value="" ?selected=${!chosen}>${t('defaultDevice')}</option>
          ${options.map((d, i) => html`<option value=${d.deviceId} ?selected=${d.deviceId === chosen}>
            ${d.label || t('deviceUnnamed', { kind: t(KIND_LABEL[kind]), n: i + 1 })}</option>`)}
        </select>
      </div>`
    })}
    ${iconButton({ part: 'device-menu-close', label: t('closeMenu'), icon: icons.close, onClick: m.onClose, variant: 'plain' })}
  </div>`
}

/** "Call with bob ended: hung up (01:23)", until the next action. */
export function endedNotice(t: T, ended: { peer: string; reason: string; cause?: string; durationMs: number }, onDismiss: () => void): TemplateResult {
  const text = t('endedWith', { peer: ended.peer, reason: t(`reason_${ended.reason}` as StringId) || ended.reason })
  // A call that could not connect says why, in a sentence of its own (docs/element.md "Why a call could not connect": each cause).
  const why = ended.cause ? t(`cause_${ended.cause}` as StringId, { peer: ended.peer }) : ''
  return html`<div part="ended" class="notice">
    <p role="status">${ended.durationMs > 0 ? t('endedAfter', { text, time: clock(ended.durationMs) }) : text}${why ? html`<br>${why}` : nothing}</p>
    ${iconButton({ part: 'ended-dismiss', label: t('dismiss'), icon: icons.close, onClick: onDismiss, variant: 'plain' })}
  </div>`
}

/** The missed calls with Call back and Clear list. */
export function missedList(t: T, missed: readonly MissedCall[], canCall: boolean, onCall: (from: string) => void, onClear: () => void): TemplateResult {
  const time = (at: string) => {
    const date = new Date(at)
    return Number.isNaN(date.getTime()) ? '' : date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  }
  return html`<section part="missed" class="missed" aria-label=${t('missedCalls')}>
    <h3 part="missed-title">${icons.missed}${t('missedCalls')} <span class="count">(${missed.length})</span></h3>
    <ul part="missed-list">
      ${missed.map((m) => html`<li part="missed-item">
        <span class="who"><strong class="name" title=${m.from}>${t('missedCall', { from: m.from })}</strong>
          <span class="meta">${t(`missedReason_${m.reason}` as StringId) || m.reason}${time(m.at) ? html` · <time datetime=${m.at}>${time(m.at)}</time>` : nothing}</span></span>
        ${iconButton({ part: 'call-back-button', label: t('callBack', { from: m.from }), icon: icons.phone, onClick: () => onCall(m.from), disabled: !canCall, variant: 'accept' })}
      </li>`)}
    </ul>
    <button type="button" part="button clear-missed-button" class="secondary" @click=${onClear}>${t('clearMissed')}</button>
  </section>`
}
