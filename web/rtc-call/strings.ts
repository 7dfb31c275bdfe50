/**
 * Every text the element shows or speaks (accessible names included), by message id, in English (the
 * default) and German. A page localises the element with `lang="de"`, or overrides single messages with
 * the `strings` property (`el.strings = {hangUp: 'Leave'}`: merged over the language's set).
 *
 * `{name}`-style placeholders are filled by `format()`; a placeholder a page leaves out is simply not shown.
 */

export const en = {
  // registration
  yourName: 'Your name',
  register: 'Register',
  nameToCall: 'Name to call',
  call: 'Call',
  signOut: 'Sign out',
  // status line
  notRegistered: 'Not registered',
  registering: 'Registering as {name}…',
  registeredAs: 'Registered as {name}',
  standby: '{name} is in use in another tab of this browser. This tab waits and takes over when that tab closes or signs out.',
  useHere: 'Use here',
  calling: 'Calling {peer}…',
  incomingFrom: 'Incoming call from {peer}',
  inCallWith: 'In call with {peer}: {connection}',
  connection_new: 'new',
  connection_connecting: 'connecting',
  connection_connected: 'connected',
  connection_disconnected: 'disconnected',
  connection_failed: 'failed',
  connection_closed: 'closed',
  // ringing
  accept: 'Accept',
  reject: 'Reject',
  block: 'Block',
  cancel: 'Cancel',
  // in a call
  mute: 'Mute',
  cameraOff: 'Camera off',
  shareScreen: 'Share screen',
  devices: 'Devices',
  hangUp: 'Hang up',
  unmuteSpeaker: 'Unmute speaker',
  callControls: 'Call controls',
  remoteVideo: 'Video of {peer}',
  localVideo: 'Your camera',
  localScreen: 'Your shared screen',
  peerMuted: '{peer} is muted',
  peerCameraOff: '{peer}: camera off',
  peerSharing: '{peer} is sharing the screen',
  youAreSharing: 'You are sharing your screen',
  duration: 'Call duration {time}',
  quality_good: 'Good connection',
  quality_fair: 'Fair connection',
  quality_poor: 'Poor connection',
  quality_measuring: 'Measuring connection…',
  // device menu
  deviceSettings: 'Device settings',
  camera: 'Camera',
  microphone: 'Microphone',
  speaker: 'Speaker',
  defaultDevice: 'Default',
  deviceUnnamed: '{kind} {n}',
  closeMenu: 'Close',
  // after a call
  endedWith: 'Call with {peer} ended: {reason}',
  endedAfter: '{text} ({time})',
  reason_hangup: 'hung up',
  reason_cancelled: 'cancelled',
  reason_rejected: 'declined',
  reason_no_answer: 'no answer',
  reason_peer_gone: 'the connection was lost',
  reason_failed: 'could not connect',
  // why a call could not connect (rtc-ended's `cause`)
  cause_relay_unreachable: 'No relay server could be reached: a firewall or proxy on the way blocks it. Your IT department can allow TURN over TLS on port 443.',
  cause_relay_refused: 'The relay server refused the call\'s credentials. Reload the page; if that does not help, the service\'s operator has to fix it.',
  cause_no_relay: 'There is no direct network path to {peer}, and this service has no relay server to go around it.',
  cause_ice_failed: 'No network path to {peer} was found.',
  // errors said in the element's own words
  error_proxy_error: 'Something other than the call server answered (HTTP {status}): a proxy or a network sign-in page is in the way.',
  error_proxy_error_by: 'Something other than the call server answered (HTTP {status}, from {by}): a proxy or a network sign-in page is in the way.',
  dismiss: 'Dismiss',
  // missed calls
  missedCalls: 'Missed calls',
  missedCall: '{from}',
  missedReason_cancelled: 'hung up before you answered',
  missedReason_no_answer: 'not answered',
  callBack: 'Call {from} back',
  clearMissed: 'Clear list',
}

/** A message id (`accept`, `hangUp`, `mute`, `cameraOff`, …). */
export type StringId = keyof typeof en
export type Strings = Record<StringId, string>

export const de: Strings = {
  yourName: 'Dein Name',
  register: 'Anmelden',
  nameToCall: 'Wen anrufen',
  call: 'Anrufen',
  signOut: 'Abmelden',
  notRegistered: 'Nicht angemeldet',
  registering: 'Anmeldung als {name}…',
  registeredAs: 'Angemeldet als {name}',
  standby: '{name} wird in einem anderen Tab dieses Browsers verwendet. Dieser Tab wartet und übernimmt, sobald jener Tab geschlossen oder abgemeldet wird.',
  useHere: 'Hier verwenden',
  calling: '{peer} wird angerufen…',
  incomingFrom: 'Anruf von {peer}',
  inCallWith: 'Im Gespräch mit {peer}: {connection}',
  connection_new: 'neu',
  connection_connecting: 'verbindet',
  connection_connected: 'verbunden',
  connection_disconnected: 'unterbrochen',
  connection_failed: 'fehlgeschlagen',
  connection_closed: 'geschlossen',
  accept: 'Annehmen',
  reject: 'Ablehnen',
  block: 'Blockieren',
  cancel: 'Abbrechen',
  mute: 'Stummschalten',
  cameraOff: 'Kamera aus',
  shareScreen: 'Bildschirm teilen',
  devices: 'Geräte',
  hangUp: 'Auflegen',
  unmuteSpeaker: 'Ton einschalten',
  callControls: 'Anrufsteuerung',
  remoteVideo: 'Video von {peer}',
  localVideo: 'Deine Kamera',
  localScreen: 'Dein geteilter Bildschirm',
  peerMuted: '{peer} ist stummgeschaltet',
  peerCameraOff: '{peer}: Kamera aus',
  peerSharing: '{peer} teilt den Bildschirm',
  youAreSharing: 'Du teilst deinen Bildschirm',
  duration: 'Gesprächsdauer {time}',
  quality_good: 'Gute Verbindung',
  quality_fair: 'Mäßige Verbindung',
  quality_poor: 'Schlechte Verbindung',
  quality_measuring: 'Verbindung wird gemessen…',
  deviceSettings: 'Geräteeinstellungen',
  camera: 'Kamera',
  microphone: 'Mikrofon',
  speaker: 'Lautsprecher',
  defaultDevice: 'Standard',
  deviceUnnamed: '{kind} {n}',
  closeMenu: 'Schließen',
  endedWith: 'Gespräch mit {peer} beendet: {reason}',
  endedAfter: '{text} ({time})',
  reason_hangup: 'aufgelegt',
  reason_cancelled: 'abgebrochen',
  reason_rejected: 'abgelehnt',
  reason_no_answer: 'keine Antwort',
  reason_peer_gone: 'Verbindung verloren',
  reason_failed: 'keine Verbindung möglich',
  cause_relay_unreachable: 'Kein Relay-Server war erreichbar: Eine Firewall oder ein Proxy auf dem Weg blockiert ihn. Deine IT-Abteilung kann TURN über TLS auf Port 443 freigeben.',
  cause_relay_refused: 'Der Relay-Server hat die Zugangsdaten des Anrufs abgelehnt. Lade die Seite neu; hilft das nicht, muss der Betreiber des Dienstes es beheben.',
  cause_no_relay: 'Es gibt keinen direkten Netzwerkweg zu {peer}, und dieser Dienst hat keinen Relay-Server, um ihn zu umgehen.',
  cause_ice_failed: 'Es wurde kein Netzwerkweg zu {peer} gefunden.',
  error_proxy_error: 'Nicht der Anrufserver hat geantwortet (HTTP {status}): Ein Proxy oder eine Anmeldeseite des Netzwerks ist im Weg.',
  error_proxy_error_by: 'Nicht der Anrufserver hat geantwortet (HTTP {status}, von {by}): Ein Proxy oder eine Anmeldeseite des Netzwerks ist im Weg.',
  dismiss: 'Ausblenden',
  missedCalls: 'Verpasste Anrufe',
  missedCall: '{from}',
  missedReason_cancelled: 'aufgelegt, bevor du abnehmen konntest',
  missedReason_no_answer: 'nicht angenommen',
  callBack: '{from} zurückrufen',
  clearMissed: 'Liste leeren',
}

/** Built-in translations, by the primary subtag of `lang`. */
export const BUILT_IN: Record<string, Strings> = { en, de }

/** The built-in set for a BCP 47 tag (`de-AT` → German); English for anything else. */
export function builtIn(lang: string | null | undefined): Strings {
  const primary = String(lang ?? '').toLowerCase().split('-')[0]
  return BUILT_IN[primary] ?? en
}

/** Keeps only known ids with string values, so a typo or a non-string never breaks rendering. */
export function sanitize(overrides: unknown): Partial<Strings> {
  const out: Partial<Strings> = {}
  if (!overrides || typeof overrides !== 'object') return out
  for (const [id, text] of Object.entries(overrides)) {
    if (id in en && typeof text === 'string') out[id as StringId] = text
  }
  return out
}

/** Fills `{placeholder}`s; unknown ones become empty. */
export function format(template: string, values: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => (key in values ? String(values[key]) : ''))
}

/** `mm:ss`, or `h:mm:ss` past an hour. */
export function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  const two = (n: number) => String(n).padStart(2, '0')
  const h = Math.floor(s / 3600)
  return h > 0 ? `${h}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}` : `${two(Math.floor(s / 60))}:${two(s % 60)}`
}
