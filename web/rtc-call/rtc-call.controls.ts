/**
 * The state line and the controls of each call state (register form, call form, incoming panel, button
 * row), as plain template functions like rtc-call.parts.ts: what they show is passed in, what they do is
 * a callback of `ControlActions`.
 */
import { html, nothing } from 'lit'
import { icons } from './icons.js'
import { iconButton, type T } from './rtc-call.parts.js'
import type { CallState } from './rtc-call.events.js'

export interface ControlActions {
  register(name: string): void
  call(peer: string): void
  takeOver(): void
  unregister(): void
  accept(): void
  reject(): void
  block(): void
  /** Block pressed: ask first (`true`), or go back (`false`). */
  confirmBlock(asking: boolean): void
  hangUp(): void
  toggleMute(): void
  toggleCamera(): void
  toggleScreen(): void
  toggleMenu(): void
  unblockSpeaker(): void
}

export interface ControlsModel {
  t: T
  state: CallState
  pending: boolean
  /** The element's `name` (the register field's value). */
  name: string
  peer: string
  muted: boolean
  cameraOff: boolean
  noAudio: boolean
  noVideo: boolean
  sharing: boolean
  speakerBlocked: boolean
  menuOpen: boolean
  /** Block was pressed: the incoming panel asks to confirm. */
  confirmingBlock: boolean
  on: ControlActions
}

export interface StatusModel {
  state: CallState
  /** The name registered or being registered. */
  name: string
  /** Set while a registration is under way. */
  registering: string | undefined
  peer: string
  connectionState: RTCPeerConnectionState | null
}

/** The state line (registered as…, calling…, connection state). */
export function statusText(t: T, m: StatusModel): string {
  const { name, peer } = m
  switch (m.state) {
    case 'idle':
      return m.registering !== undefined ? t('registering', { name: m.registering }) : t('notRegistered')
    case 'standby':
      return t('standby', { name })
    case 'registered':
      // The transport (sse / poll) is for developers: the status part's data-transport, not the sentence.
      return t('registeredAs', { name })
    case 'calling':
      return t('calling', { peer })
    case 'ringing':
      return t('incomingFrom', { peer })
    case 'in-call':
      return t('inCallWith', { peer, connection: t(`connection_${m.connectionState ?? 'new'}`) })
  }
}

/** A form's submit: the value of its field `field`, without leaving the page. */
const submitted = (field: string, then: (value: string) => void) => (event: SubmitEvent) => {
  event.preventDefault()
  const input = (event.currentTarget as HTMLFormElement).elements.namedItem(field) as HTMLInputElement
  then(input.value)
}

function devicesButton(m: ControlsModel) {
  const { t } = m
  return html`<span class="devices-toggle">${iconButton({
      part: 'devices-button',
      label: t('devices'),
      icon: icons.settings,
      onClick: () => m.on.toggleMenu(),
      expanded: m.menuOpen,
      controls: 'device-menu',
    })}</span>`
}

/**
 * Mute and camera: the same while calling and in the call. Each label says what pressing it does
 * ("Unmute" while muted); the pressed look (the `pressed` class) shows the state without colour alone.
 */
function toggles(m: ControlsModel) {
  const { t } = m
  return html`${iconButton({
      part: 'mute-button',
      label: t(m.muted ? 'unmute' : 'mute'),
      icon: m.muted ? icons.micOff : icons.mic,
      on: m.muted,
      disabled: m.noAudio,
      onClick: () => m.on.toggleMute(),
    })}
    ${iconButton({
      part: 'camera-button',
      label: t(m.cameraOff ? 'cameraOn' : 'cameraOff'),
      icon: m.cameraOff ? icons.cameraOff : icons.camera,
      on: m.cameraOff,
      disabled: m.noVideo,
      onClick: () => m.on.toggleCamera(),
    })}`
}

/** Accept / Reject / Block, or, once Block was pressed, "Block alice?" with Block alice and Back. */
function incoming(m: ControlsModel) {
  const { t, pending, on, peer } = m
  return html`<div part="incoming" class="incoming" role="group" aria-label=${t('incomingFrom', { peer })}>
    <p class="incoming-title"><span class="avatar" aria-hidden="true">${(peer[0] ?? '?').toUpperCase()}</span>
      <strong class="name" title=${peer}>${peer}</strong></p>
    ${m.confirmingBlock
      ? html`<p part="block-confirm" class="confirm" role="alert">${t('blockConfirm', { peer })}</p>
        <div part="controls" class="controls">
          <button part="button block-confirm-button" class="danger" type="button" ?disabled=${pending} @click=${() => on.block()}>${icons.block}<span class="name">${t('blockYes', { peer })}</span></button>
          <button part="button block-back-button" class="secondary" type="button" @click=${() => on.confirmBlock(false)}>${t('back')}</button>
        </div>`
      : html`<div part="controls" class="controls">
          ${iconButton({ part: 'accept-button', label: t('accept'), icon: icons.phone, variant: 'accept', disabled: pending, onClick: () => on.accept() })}
          ${iconButton({ part: 'reject-button', label: t('reject'), icon: icons.hangUp, variant: 'danger', disabled: pending, onClick: () => on.reject() })}
          ${iconButton({ part: 'block-button', label: t('block'), icon: icons.block, disabled: pending, onClick: () => on.confirmBlock(true) })}
        </div>`}
  </div>`
}

/** What can be done in this state. */
export function controls(m: ControlsModel) {
  const { t, pending, on } = m
  switch (m.state) {
    case 'idle':
      return html`<form part="register-form" @submit=${submitted('name', on.register)}>
          <label>${t('yourName')}
            <input part="input" name="name" required maxlength="64" autocomplete="off" spellcheck="false" aria-describedby="name-rule" .value=${m.name} />
          </label>
          <button part="button register-button" type="submit" ?disabled=${pending}>${t('register')}</button>
          <small part="hint" id="name-rule" class="hint form-hint">${t('nameRule')}</small>
        </form>`
    case 'standby':
      return html`<div part="controls" class="controls">
          <button part="button takeover-button" type="button" ?disabled=${pending}
            @click=${() => on.takeOver()}>${t('useHere')}</button>
          <button part="button unregister-button" class="secondary" type="button" ?disabled=${pending}
            @click=${() => on.unregister()}>${t('signOut')}</button>
        </div>`
    case 'registered':
      return html`<form part="call-form" @submit=${submitted('peer', on.call)}>
          <label>${t('nameToCall')}
            <input part="input" name="peer" required maxlength="64" autocomplete="off" spellcheck="false" />
          </label>
          <button part="button call-button" type="submit" ?disabled=${pending}>${icons.phone}<span>${t('call')}</span></button>
          <button part="button devices-button" class="secondary devices-toggle" type="button" aria-expanded=${m.menuOpen ? 'true' : 'false'}
            aria-controls="device-menu" @click=${() => on.toggleMenu()}>${icons.settings}<span>${t('devices')}</span></button>
          <button part="button unregister-button" class="secondary" type="button" ?disabled=${pending}
            @click=${() => on.unregister()}>${t('signOut')}</button>
        </form>`
    case 'calling':
      return html`<div part="controls" class="controls" role="group" aria-label=${t('callControls')}>
          ${toggles(m)}
          ${devicesButton(m)}
          ${iconButton({ part: 'hangup-button', label: t('cancel'), icon: icons.hangUp, variant: 'danger', onClick: () => on.hangUp() })}
        </div>`
    case 'ringing':
      return incoming(m)
    case 'in-call':
      return html`<div part="controls" class="controls" role="group" aria-label=${t('callControls')}>
          ${toggles(m)}
          ${iconButton({
            part: 'screen-button',
            label: t(m.sharing ? 'stopSharing' : 'shareScreen'),
            icon: m.sharing ? icons.screenStop : icons.screen,
            on: m.sharing,
            disabled: !navigator.mediaDevices?.getDisplayMedia,
            onClick: () => on.toggleScreen(),
          })}
          ${devicesButton(m)}
          ${m.speakerBlocked
            ? iconButton({ part: 'speaker-button', label: t('unmuteSpeaker'), icon: icons.speaker, onClick: () => on.unblockSpeaker() })
            : nothing}
          ${iconButton({ part: 'hangup-button', label: t('hangUp'), icon: icons.hangUp, variant: 'danger', onClick: () => on.hangUp() })}
        </div>`
  }
}
