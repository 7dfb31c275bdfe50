/**
 * The element's second edition in real Chromium, two people (two contexts) on the demo page: what the
 * peer sends (mute, camera off, screen share) shown on the other side both ways, devices switched mid-call,
 * screen share and its end, duration and quality, why a call ended, missed calls, Block, `strings`,
 * `lang`, the ring tone, the keyboard, and a 320 px wide layout. Through the public API and through the UI.
 */
import t from 'tap'
import type { Page, Route } from 'playwright-core'
import { startServer } from '../helpers/server.js'
import {
  buildWeb,
  connectCall,
  dial,
  elementState,
  launchBrowser,
  openPeer,
  register,
  remoteVideoState,
  rtcEvents,
  waitForRtcEvent,
} from '../helpers/browser.js'

buildWeb()
const { url } = await startServer(t, { logger: false })
// Three fake cameras (to switch between), and getDisplayMedia picks the (fake) screen without a dialog.
const browser = await launchBrowser(t, {
  args: ['--use-fake-device-for-media-stream=device-count=3', '--auto-select-desktop-capture-source=Entire screen'],
})

const el = (page: Page) => page.locator('rtc-call')
const shadowText = (page: Page, part: string) =>
  el(page).evaluate((e: any, part: string) => e.shadowRoot.querySelector(`[part~="${part}"]`)?.textContent?.replace(/\s+/g, ' ').trim() ?? null, part)
/** The remote video's shape once it shows frames of this aspect (the fake camera is 4:3, the fake screen 16:9). */
const waitForAspect = (page: Page, wide: boolean) =>
  page.waitForFunction(
    (wide) => {
      const video = (document.querySelector('rtc-call') as any).shadowRoot.querySelector('video.remote') as HTMLVideoElement
      if (!video.videoWidth) return false
      const ratio = video.videoWidth / video.videoHeight
      return (wide ? ratio > 1.6 : ratio < 1.45) && `${video.videoWidth}x${video.videoHeight}`
    },
    wide,
    { timeout: 60_000 },
  ).then((h) => h.jsonValue())

t.test('mute and camera off show on the other side, both ways (UI clicks, keyboard, properties, attributes)', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await connectCall(alice.page, bob.page, 'alice-pm', 'bob-pm')
  t.same(await el(bob.page).evaluate((e: any) => [e.peerAudio, e.peerVideo, e.peerScreen]), [true, true, false], 'bob: alice sends sound and video')

  await alice.page.getByRole('button', { name: 'Mute', exact: true }).click()
  // The label says what a press will do: “Unmute” while muted (and the button looks pressed).
  t.match(await alice.page.getByRole('button', { name: 'Unmute', exact: true }).getAttribute('class'), /\bpressed\b/, 'alice’s button now says Unmute, pressed')
  t.equal(await alice.page.getByRole('button', { name: 'Mute', exact: true }).count(), 0, 'and no longer Mute')
  const muted = await waitForRtcEvent(bob.page, 'rtc-peer-media', { detail: { audio: false } })
  t.same(muted.detail, { audio: false, video: true, screen: false }, 'bob learns that alice muted')
  t.equal(await el(bob.page).evaluate((e: any) => e.peerAudio), false)
  t.equal(await shadowText(bob.page, 'peer-muted'), 'alice-pm is muted', 'bob sees “alice-pm is muted” over her video')

  // bob turns his camera off with the keyboard.
  await bob.page.getByRole('button', { name: 'Camera off', exact: true }).focus()
  await bob.page.keyboard.press('Space')
  const cameraOff = await waitForRtcEvent(alice.page, 'rtc-peer-media', { detail: { video: false } })
  t.same(cameraOff.detail, { audio: true, video: false, screen: false }, 'alice learns that bob’s camera is off')
  t.equal(await shadowText(alice.page, 'peer-camera-off'), 'bob-pm: camera off', 'alice sees bob’s name and “camera off” instead of black')
  t.equal(await el(alice.page).evaluate((e: any) => e.shadowRoot.querySelector('video.remote').checkVisibility()), false, 'the black video is hidden')
  const track = await el(bob.page).evaluate((e: any) => e.localStream.getVideoTracks()[0].enabled)
  t.equal(track, false, 'bob’s camera track is disabled (black frames, no renegotiation)')

  // The properties do the same: bob mutes through `muted`, alice turns her camera off through `cameraOff`.
  await el(bob.page).evaluate((e: any) => (e.muted = true))
  await waitForRtcEvent(alice.page, 'rtc-peer-media', { detail: { audio: false, video: false } })
  t.equal(await shadowText(alice.page, 'peer-muted'), 'bob-pm is muted')
  await el(alice.page).evaluate((e: any) => (e.cameraOff = true))
  await waitForRtcEvent(bob.page, 'rtc-peer-media', { detail: { audio: false, video: false } })
  t.same(await el(bob.page).evaluate((e: any) => [e.peerAudio, e.peerVideo]), [false, false])

  // And back on.
  await el(alice.page).evaluate((e: any) => ((e.cameraOff = false), (e.muted = false)))
  await waitForRtcEvent(bob.page, 'rtc-peer-media', { detail: { audio: true, video: true } })
  t.equal(await shadowText(bob.page, 'peer-muted'), null, 'the muted label is gone')
  t.equal(await shadowText(bob.page, 'peer-camera-off'), null, 'the camera-off placeholder is gone')
  const video = await remoteVideoState(bob.page)
  t.ok(video.framesDecoded, 'bob sees alice’s video again', { video })

  // The attributes `muted` and `camera-off` do it too (markup, not only script).
  await el(alice.page).evaluate((e: any) => (e.setAttribute('muted', ''), e.setAttribute('camera-off', '')))
  await waitForRtcEvent(bob.page, 'rtc-peer-media', { detail: { audio: false, video: false }, after: 1 })
  t.same(await el(alice.page).evaluate((e: any) => [e.muted, e.cameraOff]), [true, true], 'the attributes set the properties')
  await el(alice.page).evaluate((e: any) => (e.removeAttribute('muted'), e.removeAttribute('camera-off')))
  await waitForRtcEvent(bob.page, 'rtc-peer-media', { detail: { audio: true, video: true }, after: 1 })
  await alice.page.getByRole('button', { name: 'Hang up', exact: true }).click()
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
  t.same(await el(bob.page).evaluate((e: any) => [e.peerAudio, e.peerVideo]), [false, false], 'no peer outside a call')
})

t.test('devices: list, switch camera and microphone mid-call, speaker, the choice remembered', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await connectCall(alice.page, bob.page, 'alice-dev', 'bob-dev')
  const devices: { kind: string; deviceId: string; label: string }[] = await el(alice.page).evaluate((e: any) => e.devices())
  const cameras = devices.filter((d) => d.kind === 'videoinput')
  const microphones = devices.filter((d) => d.kind === 'audioinput')
  const speakers = devices.filter((d) => d.kind === 'audiooutput')
  t.equal(cameras.length, 3, 'three cameras listed')
  t.ok(microphones.length >= 1 && speakers.length >= 1, 'microphones and speakers listed')
  t.ok(cameras.every((d) => d.label), 'with labels (the call opened the camera)')

  const before = await el(alice.page).evaluate((e: any) => e.localStream.getVideoTracks()[0].getSettings().deviceId)
  // Chromium's second fake camera (fake_device_1) sends no frames into a peer connection (its frames stop at
  // the encoder, also on a fresh call), so the switch goes to the third, an ordinary one.
  const other = cameras.find((d) => d.deviceId !== before && d.label === 'fake_device_2')!
  await el(alice.page).evaluate((e: any, id: string) => e.setDevice('videoinput', id), other.deviceId)
  const switched = await waitForRtcEvent(alice.page, 'rtc-device')
  t.same(switched.detail, { kind: 'videoinput', deviceId: other.deviceId })
  const now = await el(alice.page).evaluate((e: any) => e.localStream.getVideoTracks().map((tr: MediaStreamTrack) => [tr.getSettings().deviceId, tr.readyState]))
  t.same(now, [[other.deviceId, 'live']], 'alice’s call uses the other camera, one video track')
  const video = await remoteVideoState(bob.page)
  t.ok(video.framesDecoded && video.width > 0, 'bob’s video keeps decoding after the switch', { video })
  t.equal(await elementState(bob.page), 'in-call')

  // The microphone from the device menu, with the keyboard.
  await alice.page.getByRole('button', { name: 'Devices', exact: true }).click()
  t.equal(await alice.page.getByRole('button', { name: 'Devices', exact: true }).getAttribute('aria-expanded'), 'true')
  const microphone = microphones.find((d) => d.deviceId !== 'default')!
  await alice.page.getByLabel('Microphone', { exact: true }).selectOption(microphone.deviceId)
  const mic = await waitForRtcEvent(alice.page, 'rtc-device', { detail: { kind: 'audioinput' } })
  t.equal(mic.detail.deviceId, microphone.deviceId)
  t.equal(await el(alice.page).evaluate((e: any) => e.localStream.getAudioTracks()[0].getSettings().deviceId), microphone.deviceId, 'the new microphone is sent')
  await alice.page.keyboard.press('Escape')
  await t.resolveMatch(alice.page.evaluate(() => {
    let a = document.activeElement
    while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement
    return a?.textContent?.trim()
  }), 'Devices', 'Escape closes the menu and gives the focus back to Devices')

  // The speaker: setSinkId on the remote video.
  const speaker = speakers.find((d) => d.deviceId !== 'default')!
  await el(alice.page).evaluate((e: any, id: string) => e.setDevice('audiooutput', id), speaker.deviceId)
  t.equal(await el(alice.page).evaluate((e: any) => e.shadowRoot.querySelector('video.remote').sinkId), speaker.deviceId, 'the call plays on the chosen speaker')

  const unknown = await el(alice.page).evaluate((e: any) => e.setDevice('videoinput', 'no-such-camera').then(() => null, (error: any) => error.code))
  t.equal(unknown, 'device_not_found')
  t.equal(await el(alice.page).evaluate((e: any) => e.localStream.getVideoTracks()[0].readyState), 'live', 'a failed switch keeps the camera')

  await alice.page.getByRole('button', { name: 'Hang up', exact: true }).click()
  await waitForRtcEvent(bob.page, 'rtc-ended')
  // Remembered per origin: a new page of this browser profile calls with the same camera and microphone.
  const stored = await alice.page.evaluate(() => JSON.parse(localStorage.getItem('sigpost.rtc-call.devices') ?? '{}'))
  t.same(stored, { videoinput: other.deviceId, audioinput: microphone.deviceId, audiooutput: speaker.deviceId })
  await alice.page.goto(`${url}/`)
  await register(alice.page, 'alice-dev2')
  await el(bob.page).evaluate((e: any) => (e.autoAnswer = true))
  await dial(alice.page, 'bob-dev')
  await waitForRtcEvent(alice.page, 'rtc-connected')
  const used = await el(alice.page).evaluate((e: any) => e.localStream.getTracks().map((tr: MediaStreamTrack) => tr.getSettings().deviceId).sort())
  t.same(used, [other.deviceId, microphone.deviceId].sort(), 'the next call opens the remembered devices')
  await el(alice.page).evaluate((e: any) => e.hangUp())
  await waitForRtcEvent(bob.page, 'rtc-ended', { after: 1 })
})

t.test('screen share: the peer sees the screen; it ends with the button, the method and the browser’s own stop', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await connectCall(alice.page, bob.page, 'alice-ss', 'bob-ss')
  t.ok(await waitForAspect(bob.page, false), 'bob sees alice’s 4:3 camera')

  const share = alice.page.getByRole('button', { name: 'Share screen', exact: true })
  await share.click()
  const sharing = await waitForRtcEvent(bob.page, 'rtc-peer-media', { detail: { screen: true } })
  t.same(sharing.detail, { audio: true, video: true, screen: true })
  const stop = alice.page.getByRole('button', { name: 'Stop sharing', exact: true })
  t.equal(await stop.count(), 1, 'while sharing the button says Stop sharing')
  t.equal(await el(alice.page).evaluate((e: any) => e.sharingScreen), true)
  t.ok(await waitForAspect(bob.page, true), 'bob now sees a 16:9 picture: the screen')
  t.equal(await shadowText(bob.page, 'peer-sharing'), 'alice-ss is sharing the screen')
  t.equal(await shadowText(alice.page, 'sharing-badge'), 'You are sharing your screen')

  await stop.click()
  await waitForRtcEvent(bob.page, 'rtc-peer-media', { detail: { screen: false } })
  t.ok(await waitForAspect(bob.page, false), 'the button stops it: bob sees the camera again')

  await el(alice.page).evaluate((e: any) => e.shareScreen())
  await waitForRtcEvent(bob.page, 'rtc-peer-media', { detail: { screen: true }, after: 1 })
  await el(alice.page).evaluate((e: any) => e.stopScreenShare())
  await waitForRtcEvent(bob.page, 'rtc-peer-media', { detail: { screen: false }, after: 1 })
  t.pass('shareScreen() / stopScreenShare() do the same')

  // The browser's "Stop sharing" control ends the captured track: that is the `ended` event it fires.
  await el(alice.page).evaluate((e: any) => e.shareScreen())
  await waitForRtcEvent(bob.page, 'rtc-peer-media', { detail: { screen: true }, after: 2 })
  await el(alice.page).evaluate((e: any) => {
    const track = e.shadowRoot.querySelector('video.local').srcObject.getVideoTracks()[0] as MediaStreamTrack
    track.dispatchEvent(new Event('ended'))
  })
  await waitForRtcEvent(bob.page, 'rtc-peer-media', { detail: { screen: false }, after: 2 })
  t.equal(await el(alice.page).evaluate((e: any) => e.sharingScreen), false, 'the share ended cleanly')
  t.equal(await share.count(), 1, 'Share screen again')
  t.ok(await waitForAspect(bob.page, false), 'and bob sees the camera again')
  t.same(await rtcEvents(alice.page, 'rtc-error'), [], 'no error on the way')
  const outside = await el(alice.page).evaluate(async (e: any) => {
    await e.hangUp()
    return e.shareScreen().then(() => null, (error: any) => error.code)
  })
  t.equal(outside, 'invalid_state', 'no screen share outside a call')
})

t.test('duration, quality, why it ended (until the next action)', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await connectCall(alice.page, bob.page, 'alice-q', 'bob-q')
  const quality = await waitForRtcEvent(alice.page, 'rtc-quality')
  t.match(quality.detail, { quality: /^(good|fair|poor)$/, lossPercent: Number }, 'rtc-quality says how the call goes')
  t.ok(quality.detail.rttMs === null || quality.detail.rttMs >= 0, `round-trip time: ${quality.detail.rttMs} ms`)
  t.equal(await el(alice.page).evaluate((e: any) => e.quality), quality.detail.quality)
  const words = { good: 'Good connection', fair: 'Fair connection', poor: 'Poor connection' } as Record<string, string>
  t.equal(await shadowText(alice.page, 'quality'), words[quality.detail.quality], 'the indicator says it in words, not only bars')
  await alice.page.waitForFunction(() => /^00:0[1-9]$/.test((document.querySelector('rtc-call') as any).shadowRoot.querySelector('[part~="duration"]')?.textContent ?? ''))
  t.pass('the duration counts')

  await bob.page.getByRole('button', { name: 'Hang up', exact: true }).click()
  await waitForRtcEvent(alice.page, 'rtc-ended')
  t.equal(await el(alice.page).evaluate((e: any) => e.quality), null, 'no quality after the call')
  t.match(await shadowText(alice.page, 'ended'), /^Call with bob-q ended: hung up \(\d\d:\d\d\)/, 'alice reads why it ended and how long it was')
  t.equal(await el(alice.page).evaluate((e: any) => e.endedReason), 'hangup')
  await alice.page.getByRole('button', { name: 'Refresh', exact: true }).click()
  t.equal(await el(alice.page).evaluate((e: any) => e.endedReason), 'hangup', 'looking at the list is not an action that clears it')

  // Unanswered and cancelled: the caller reads “cancelled”; the next action clears it.
  await dial(alice.page, 'bob-q')
  await waitForRtcEvent(bob.page, 'rtc-incoming', { after: 1 })
  t.equal(await shadowText(alice.page, 'ended'), null, 'calling again cleared it')
  await alice.page.getByRole('button', { name: 'Cancel', exact: true }).click()
  await waitForRtcEvent(alice.page, 'rtc-ended', { after: 1 })
  t.match(await shadowText(alice.page, 'ended'), /^Call with bob-q ended: cancelled/)
  await alice.page.getByRole('button', { name: 'Dismiss', exact: true }).click()
  t.equal(await shadowText(alice.page, 'ended'), null, 'Dismiss clears it')
})

t.test('missed calls are listed until cleared; Call back calls', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await Promise.all([register(alice.page, 'alice-mc'), register(bob.page, 'bob-mc', 'sse')])
  // It rings at bob's and alice gives up.
  const callId = await el(alice.page).evaluate((e: any) => e.call('bob-mc'))
  await waitForRtcEvent(bob.page, 'rtc-incoming')
  await el(alice.page).evaluate((e: any) => e.hangUp())
  const missed = await waitForRtcEvent(bob.page, 'rtc-missed')
  t.same(missed.detail, { callId, from: 'alice-mc', reason: 'cancelled' })

  // Dave is away: his first poll answers (he is registered), later ones are held in his browser, so the
  // call rings nowhere; the server collapses the ended call into one `missedCall` he gets when he is back.
  const dave = await openPeer(t, browser, `${url}/`, 'dave')
  const held: Route[] = []
  let holding: () => void
  const firstHeld = new Promise<void>((resolve) => (holding = resolve))
  let polls = 0
  const isPoll = (u: URL) => u.pathname.endsWith('/v1/poll')
  await dave.page.route(isPoll, (route) => {
    if (++polls === 1) return void route.continue()
    held.push(route)
    holding()
  })
  await register(dave.page, 'dave-mc', 'poll')
  await firstHeld
  const away = await el(alice.page).evaluate((e: any) => e.call('dave-mc'))
  await el(alice.page).evaluate((e: any) => e.hangUp())
  await dave.page.unroute(isPoll)
  for (const route of held) await route.continue().catch(() => {}) // (unroute may have let them go already)
  const missedWhileAway = await waitForRtcEvent(dave.page, 'rtc-missed')
  t.same(missedWhileAway.detail, { callId: away, from: 'alice-mc', reason: 'cancelled' }, 'dave learns who tried while he was away')
  t.same(await rtcEvents(dave.page, 'rtc-incoming'), [], 'from the server’s missedCall: it never rang')
  t.equal(await dave.page.locator('rtc-call [part~="missed-item"]').count(), 1, 'and it is listed')
  const second = await el(alice.page).evaluate((e: any) => e.call('bob-mc'))
  await waitForRtcEvent(bob.page, 'rtc-incoming', { after: 1 })
  await el(alice.page).evaluate((e: any) => e.hangUp())
  await waitForRtcEvent(bob.page, 'rtc-missed', { after: 1 })

  t.same((await el(bob.page).evaluate((e: any) => e.missedCalls)).map((m: any) => [m.from, m.callId]), [['alice-mc', second], ['alice-mc', callId]], 'newest first')
  const items = bob.page.locator('rtc-call').locator('[part~="missed-item"]')
  t.equal(await items.count(), 2, 'both shown in the list')
  await bob.page.getByRole('button', { name: 'Call alice-mc back', exact: true }).first().click()
  await waitForRtcEvent(alice.page, 'rtc-incoming')
  t.pass('Call back calls alice')
  await el(alice.page).evaluate((e: any) => e.reject())
  await waitForRtcEvent(bob.page, 'rtc-ended', { detail: { reason: 'rejected' } })
  t.equal(await items.count(), 2, 'the list stays until cleared')
  await bob.page.getByRole('button', { name: 'Clear list', exact: true }).click()
  t.equal(await items.count(), 0)
  t.same(await el(bob.page).evaluate((e: any) => e.missedCalls), [])
})

t.test('Block rejects with block: true; the caller reads “declined”', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await Promise.all([register(alice.page, 'alice-bl'), register(bob.page, 'bob-bl')])
  await dial(alice.page, 'bob-bl')
  await waitForRtcEvent(bob.page, 'rtc-incoming')
  const request = bob.page.waitForRequest((r) => r.url().endsWith('/reject'))
  await bob.page.getByRole('button', { name: 'Block', exact: true }).click()
  // Block asks first; Back returns to Accept / Reject / Block, and nothing was sent.
  t.match(await shadowText(bob.page, 'block-confirm'), /^Block alice-bl\? Calls from alice-bl are refused until you sign out\.$/)
  await bob.page.getByRole('button', { name: 'Back', exact: true }).click()
  t.equal(await shadowText(bob.page, 'block-confirm'), null, 'Back: the question is gone')
  await bob.page.getByRole('button', { name: 'Block', exact: true }).click()
  await bob.page.getByRole('button', { name: 'Block alice-bl', exact: true }).click()
  t.same((await request).postDataJSON(), { reason: 'declined', block: true }, 'the reject blocks alice')
  const [endedA, endedB] = await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
  t.same([endedA.detail.reason, endedB.detail.reason], ['rejected', 'rejected'])
  t.match(await shadowText(alice.page, 'ended'), /^Call with bob-bl ended: declined/)
  t.same(await rtcEvents(bob.page, 'rtc-missed'), [], 'a blocked call is not a missed one')
  const noCall = await el(bob.page).evaluate((e: any) => e.block().then(() => null, (error: any) => error.code))
  t.equal(noCall, 'invalid_state', 'block() with nothing ringing')
})

t.test('strings and lang: overrides merge with the defaults, German built in', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  const merged = await el(bob.page).evaluate((e: any) => {
    e.strings = { accept: 'Take the call', hangUp: 'Leave', nonsense: 'x', mute: 42 }
    return e.strings
  })
  t.equal(merged.accept, 'Take the call')
  t.equal(merged.hangUp, 'Leave')
  t.equal(merged.mute, 'Mute', 'what was not overridden keeps its default (and a non-string is ignored)')
  t.equal(merged.nonsense, undefined, 'unknown ids are ignored')
  await Promise.all([register(alice.page, 'alice-str'), register(bob.page, 'bob-str')])
  await dial(alice.page, 'bob-str')
  await waitForRtcEvent(bob.page, 'rtc-incoming')
  await bob.page.getByRole('button', { name: 'Take the call', exact: true }).click()
  await waitForRtcEvent(bob.page, 'rtc-connected')
  t.ok(await bob.page.getByRole('button', { name: 'Leave', exact: true }).isVisible(), 'Hang up is called “Leave”')

  await el(bob.page).evaluate((e: any) => e.setAttribute('lang', 'de-AT'))
  for (const name of ['Stummschalten', 'Kamera aus', 'Bildschirm teilen', 'Geräte']) {
    t.ok(await bob.page.getByRole('button', { name, exact: true }).isVisible(), `German: ${name}`)
  }
  t.ok(await bob.page.getByRole('button', { name: 'Leave', exact: true }).isVisible(), 'the override stays over German')
  t.match(await bob.page.getByRole('status').first().textContent(), /^Im Gespräch mit alice-str: verbunden/)
  t.equal(await el(bob.page).evaluate((e: any) => e.strings.mute), 'Stummschalten', 'reading gives the German set')
  await el(bob.page).evaluate((e: any) => (e.strings = {}))
  await bob.page.getByRole('button', { name: 'Auflegen', exact: true }).click()
  await waitForRtcEvent(alice.page, 'rtc-ended')
  t.match(await shadowText(bob.page, 'ended'), /^Gespräch mit alice-str beendet: aufgelegt/)
  await el(bob.page).evaluate((e: any) => (e.lang = 'en'))
  t.match(await shadowText(bob.page, 'ended'), /^Call with alice-str ended: hung up/)
})

t.test('ringtone: a Web Audio tone while it rings, silent after', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  // Counts the page's AudioContexts (the real ones) and their state.
  await bob.page.evaluate(() => {
    const Real = window.AudioContext
    const made: AudioContext[] = ((window as any).__audio = [])
    window.AudioContext = class extends Real {
      constructor(options?: AudioContextOptions) {
        super(options)
        made.push(this)
      }
    }
  })
  await Promise.all([register(alice.page, 'alice-ring'), register(bob.page, 'bob-ring')])
  t.equal(await el(bob.page).evaluate((e: any) => e.ringtone), true, 'the demo page turns the ring tone on')
  await dial(alice.page, 'bob-ring')
  await waitForRtcEvent(bob.page, 'rtc-incoming')
  await bob.page.waitForFunction(() => (window as any).__audio.length === 1)
  t.not(await bob.page.evaluate(() => (window as any).__audio[0].state), 'closed', 'it rings')
  // The caller gives up (not a reject: a rejected caller may not call again at once).
  await el(alice.page).evaluate((e: any) => e.hangUp())
  await bob.page.waitForFunction(() => (window as any).__audio[0].state === 'closed')
  t.pass('the tone stops with the ringing')
  await el(bob.page).evaluate((e: any) => (e.ringtone = false))
  await dial(alice.page, 'bob-ring')
  await waitForRtcEvent(bob.page, 'rtc-incoming', { after: 1 })
  t.equal(await bob.page.evaluate(() => (window as any).__audio.length), 1, 'without `ringtone` no tone')
  await el(alice.page).evaluate((e: any) => e.hangUp())
})

t.test('keyboard only, visible focus, and a 320 px wide screen', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await alice.page.setViewportSize({ width: 320, height: 640 })
  const overflow = () => alice.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
  t.equal(await overflow(), 0, 'idle: nothing sticks out at 320 px')
  await connectCall(alice.page, bob.page, 'alice-kb', 'bob-kb')
  t.equal(await overflow(), 0, 'in a call: nothing sticks out at 320 px')
  const controls = await el(alice.page).evaluate((e: any) =>
    [...e.shadowRoot.querySelectorAll('[part~="controls"] button')].map((b: HTMLElement) => {
      const r = b.getBoundingClientRect()
      return { name: b.textContent!.trim(), inside: r.left >= 0 && r.right <= document.documentElement.clientWidth, big: r.width >= 24 && r.height >= 24 }
    }),
  )
  t.same(controls.map((c) => c.name), ['Mute', 'Camera off', 'Share screen', 'Devices', 'Hang up'])
  t.ok(controls.every((c) => c.inside && c.big), 'every control is on screen and at least 24 px', { controls })

  // Tab to Mute; the focus ring is visible; Enter toggles.
  await alice.page.getByRole('button', { name: 'Mute', exact: true }).focus()
  await alice.page.keyboard.press('Shift+Tab')
  await alice.page.keyboard.press('Tab')
  const ring = await el(alice.page).evaluate((e: any) => {
    const icon = e.shadowRoot.activeElement.querySelector('.icon')
    const style = getComputedStyle(icon)
    return { name: e.shadowRoot.activeElement.textContent.trim(), outline: style.outlineStyle, width: parseFloat(style.outlineWidth) }
  })
  t.same(ring, { name: 'Mute', outline: 'solid', width: 3 }, 'the focused button shows a 3 px ring')
  await alice.page.keyboard.press('Enter')
  await waitForRtcEvent(bob.page, 'rtc-peer-media', { detail: { audio: false } })
  const pressed = await el(alice.page).evaluate((e: any) => {
    const button = e.shadowRoot.querySelector('[part~="mute-button"]')
    const icon = getComputedStyle(button.querySelector('.icon'))
    return { label: button.textContent.trim(), opacity: getComputedStyle(button).opacity, inset: icon.boxShadow.includes('inset') }
  })
  t.same(pressed, { label: 'Unmute', opacity: '1', inset: true }, 'pressed looks pressed (inset ring, crossed-out icon), not disabled (faded)')
  // Devices opens with Enter, the focus goes into the menu, Escape returns.
  await alice.page.keyboard.press('Tab')
  await alice.page.keyboard.press('Tab')
  await alice.page.keyboard.press('Tab')
  await alice.page.keyboard.press('Enter')
  await alice.page.getByLabel('Camera', { exact: true }).waitFor()
  t.equal(await el(alice.page).evaluate((e: any) => e.shadowRoot.activeElement?.getAttribute('part')), 'device-select videoinput-select', 'the menu takes the focus')
  t.equal(await overflow(), 0, 'the open device menu fits at 320 px')
  await alice.page.keyboard.press('Escape')
  t.equal(await el(alice.page).evaluate((e: any) => e.shadowRoot.activeElement?.textContent.trim()), 'Devices')
  await alice.page.keyboard.press('Tab')
  await alice.page.keyboard.press('Enter')
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
  t.pass('Hang up with Enter')
})
