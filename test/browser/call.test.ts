/**
 * Two people on the demo page call each other in real Chromium (fake camera and microphone), over each
 * transport; then reject, cancel while ringing, busy and an unknown name.
 */
import t from 'tap'
import type { Page } from 'playwright-core'
import { startServer } from '../helpers/server.js'
import { until } from '../helpers/wait.js'
import {
  buildWeb,
  describePage,
  dial,
  register,
  captureTracks,
  capturedTrackStates,
  elementState,
  launchBrowser,
  openPeer,
  remoteVideoState,
  rtcEvents,
  waitForRtcEvent,
} from '../helpers/browser.js'

buildWeb()
const { url } = await startServer(t, { logger: false })
const browser = await launchBrowser(t)





// auto: long-poll from the first moment, then SSE once the probe has proven the path.
for (const [transport, expected] of [
  ['auto', ['poll', 'sse']],
  ['sse', ['sse']],
  ['poll', ['poll']],
] as const) {
  t.test(`register, call, accept, live video both ways, hang up (transport=${transport})`, async (t) => {
    const alice = await openPeer(t, browser, `${url}/`, 'alice')
    const bob = await openPeer(t, browser, `${url}/`, 'bob')
    const aliceName = `alice-${transport}`
    const bobName = `bob-${transport}`
    const [registeredA, registeredB] = await Promise.all([register(alice.page, aliceName, transport), register(bob.page, bobName, transport)])
    t.same([registeredA.detail, registeredB.detail], [{ name: aliceName }, { name: bobName }])
    for (const page of [alice.page, bob.page]) await waitForRtcEvent(page, 'rtc-transport', { detail: { transport: expected.at(-1) } })
    t.same((await rtcEvents(alice.page, 'rtc-transport')).map((e) => e.detail.transport), expected, `alice receives over ${expected.join(' → ')}`)
    t.same((await rtcEvents(bob.page, 'rtc-transport')).map((e) => e.detail.transport), expected, `bob receives over ${expected.join(' → ')}`)
    t.equal(await elementState(alice.page), 'registered')

    await dial(alice.page, bobName)
    const incoming = await waitForRtcEvent(bob.page, 'rtc-incoming')
    t.equal(incoming.detail.from, aliceName, 'bob sees who calls')
    t.equal(await elementState(bob.page), 'ringing')
    await bob.page.getByRole('button', { name: 'Accept', exact: true }).click()

    const [connectedA, connectedB] = await Promise.all([waitForRtcEvent(alice.page, 'rtc-connected'), waitForRtcEvent(bob.page, 'rtc-connected')])
    t.same(connectedA.detail, { callId: incoming.detail.callId, peer: bobName })
    t.same(connectedB.detail, { callId: incoming.detail.callId, peer: aliceName })
    t.equal(await elementState(alice.page), 'in-call')
    t.equal(await elementState(bob.page), 'in-call')
    for (const [who, peer] of [['alice', alice], ['bob', bob]] as const) {
      const video = await remoteVideoState(peer.page)
      t.ok(video.framesDecoded, `${who} sees the other's video move`, { video })
      t.ok(video.width > 0 && video.height > 0, `${who}'s remote video has a size (${video.width}x${video.height})`)
      t.ok(video.showsRemoteStream, `${who}'s video shows remoteStream`)
      t.equal(video.liveVideoTracks, 1, `${who}'s remoteStream has a live video track`)
    }
    await t.resolveMatch(
      bob.page.getByRole('status').first().textContent(),
      /In call with alice-\w+: connected/,
      'bob reads the connection state',
    )
    const click = (await rtcEvents(alice.page, 'click', { detail: { text: 'Call' } })).at(-1)!
    t.comment(`click→connected, ${transport} (${expected}), accepted by a click: ${Math.round(connectedA.t - click.t)} ms`)

    await captureTracks(alice.page)
    await captureTracks(bob.page)
    await alice.page.getByRole('button', { name: 'Hang up', exact: true }).click()
    const [endedA, endedB] = await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
    t.same(endedA.detail, { callId: incoming.detail.callId, reason: 'hangup' }, 'the one who hung up sees hangup')
    t.same(endedB.detail, { callId: incoming.detail.callId, reason: 'hangup' }, 'the other one too')
    t.ok((await capturedTrackStates(alice.page)).every((s) => s === 'ended'), 'alice’s camera, microphone and remote tracks are released')
    t.ok((await capturedTrackStates(bob.page)).every((s) => s === 'ended'), 'bob’s too')
    t.equal(await elementState(alice.page), 'registered')
    t.equal(await elementState(bob.page), 'registered')
    t.same(await rtcEvents(alice.page, 'rtc-error'), [], 'no errors on the way')
    t.same(await rtcEvents(bob.page, 'rtc-error'), [])

    // Auto-answer: bob's element accepts by itself; the call connects and ends when bob hangs up. (One call:
    // repeating it for a median is a measurement, which belongs to the benchmark, not to the test.)
    await bob.page.locator('rtc-call').evaluate((element: any) => (element.autoAnswer = true))
    await dial(alice.page, bobName)
    const connected = await waitForRtcEvent(alice.page, 'rtc-connected', { after: 1 })
    const clicked = (await rtcEvents(alice.page, 'click', { detail: { text: 'Call' } })).at(-1)!
    await bob.page.getByRole('button', { name: 'Hang up', exact: true }).click()
    const ended = await waitForRtcEvent(alice.page, 'rtc-ended', { after: 1 })
    t.equal(ended.detail.reason, 'hangup', 'the auto-answered call ends when bob hangs up')
    await waitForRtcEvent(bob.page, 'rtc-ended', { after: 1 })
    t.comment(`click→connected, ${transport} (${expected}), auto-answer: ${Math.round(connected.t - clicked.t)} ms`)
  })
}

t.test('the callee rejects: both see rejected', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await Promise.all([register(alice.page, 'alice-rej'), register(bob.page, 'bob-rej')])
  // This time from the demo page's list of registered names.
  await alice.page.getByRole('button', { name: 'Refresh', exact: true }).click()
  await alice.page.getByRole('button', { name: 'Call bob-rej', exact: true }).click()
  const incoming = await waitForRtcEvent(bob.page, 'rtc-incoming')
  await captureTracks(alice.page)
  await bob.page.getByRole('button', { name: 'Reject', exact: true }).click()
  const [endedA, endedB] = await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
  t.same(endedA.detail, { callId: incoming.detail.callId, reason: 'rejected' })
  t.same(endedB.detail, { callId: incoming.detail.callId, reason: 'rejected' })
  t.ok((await capturedTrackStates(alice.page)).every((s) => s === 'ended'), 'the caller’s camera is released')
  t.equal(await elementState(alice.page), 'registered')
  t.equal(await elementState(bob.page), 'registered')
  t.same(await rtcEvents(alice.page, 'rtc-connected'), [], 'nothing connected')
})

t.test('a refresh of who is online in flight does not swallow a click: Call, then Reject', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await Promise.all([register(alice.page, 'alice-busyread'), register(bob.page, 'bob-busyread')])
  // Both pages' directory requests hang until released (the demo page refreshes its list every 5 s).
  const held: Array<() => void> = []
  for (const page of [alice.page, bob.page]) {
    await page.route((u) => u.pathname === '/v1/sessions', (route) => {
      if (route.request().method() !== 'GET') return route.fallback()
      held.push(() => void route.fallback().catch(() => {}))
      return undefined
    })
  }
  const reading = ({ page }: { page: Page }) => page.locator('rtc-call').evaluate((e: any) => void e.listNames().catch(() => {}))
  await Promise.all([reading(alice), reading(bob)])
  t.equal(await alice.page.getByRole('button', { name: 'Call', exact: true }).isEnabled(), true, 'Call stays enabled during the read')
  await dial(alice.page, 'bob-busyread')
  await waitForRtcEvent(bob.page, 'rtc-incoming')
  t.equal(await bob.page.getByRole('button', { name: 'Reject', exact: true }).isEnabled(), true, 'Reject stays enabled during the read')
  await bob.page.getByRole('button', { name: 'Reject', exact: true }).click()
  const [endedA, endedB] = await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
  t.same([endedA.detail.reason, endedB.detail.reason], ['rejected', 'rejected'])
  for (const release of held) release()
})

t.test('the caller cancels while it rings', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await Promise.all([register(alice.page, 'alice-cancel'), register(bob.page, 'bob-cancel')])
  await dial(alice.page, 'bob-cancel')
  const incoming = await waitForRtcEvent(bob.page, 'rtc-incoming')
  t.equal(await elementState(alice.page), 'calling')
  await alice.page.getByRole('button', { name: 'Cancel', exact: true }).click()
  const [endedA, endedB] = await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
  t.same(endedA.detail, { callId: incoming.detail.callId, reason: 'cancelled' })
  t.same(endedB.detail, { callId: incoming.detail.callId, reason: 'cancelled' })
  await bob.page.getByRole('button', { name: 'Accept', exact: true }).waitFor({ state: 'detached' })
  t.pass('bob’s Accept button is gone')
  t.equal(await elementState(bob.page), 'registered')
})

t.test('busy, and an unknown name', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  const carol = await openPeer(t, browser, `${url}/`, 'carol')
  await Promise.all([register(alice.page, 'alice-busy'), register(bob.page, 'bob-busy'), register(carol.page, 'carol-busy')])
  await bob.page.locator('rtc-call').evaluate((element: any) => (element.autoAnswer = true))
  await dial(alice.page, 'bob-busy')
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-connected'), waitForRtcEvent(bob.page, 'rtc-connected')])

  await dial(carol.page, 'bob-busy')
  const busy = await waitForRtcEvent(carol.page, 'rtc-error')
  t.equal(busy.detail.code, 'busy', 'calling someone in a call is busy')
  t.equal(await elementState(carol.page), 'registered')
  t.same(await rtcEvents(carol.page, 'rtc-ended'), [], 'a call that was never placed does not end')
  t.same(await rtcEvents(bob.page, 'rtc-incoming', { after: 0 }).then((e) => e.length), 1, 'bob was not disturbed')
  t.equal(await elementState(bob.page), 'in-call')
  await t.resolveMatch(carol.page.getByRole('alert').textContent(), /\S/, 'carol reads why')

  // Calling through the method rejects with a coded Error as well.
  const rejection = await carol.page.locator('rtc-call').evaluate((element: any) =>
    element.call('nobody-here').then(
      () => null,
      (error: any) => ({ isError: error instanceof Error, code: error.code }),
    ),
  )
  t.same(rejection, { isError: true, code: 'peer_not_found' })
  const unknown = await waitForRtcEvent(carol.page, 'rtc-error', { after: 1 })
  t.equal(unknown.detail.code, 'peer_not_found')
  t.equal(await elementState(carol.page), 'registered')
  t.equal(await elementState(alice.page), 'in-call', 'the call of the others goes on')
})

t.test('keyboard only: register, call, accept, hang up', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  const tabTo = async (page: Page, accessibleName: string) => {
    // Tab from the top of the page until the control with this label has the focus.
    await page.locator('body').focus()
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press('Tab')
      const focused = await page.evaluate(() => {
        let element = document.activeElement
        while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement
        return element ? (element.getAttribute('aria-label') ?? element.closest('label')?.textContent ?? element.textContent ?? '').trim() : ''
      })
      if (focused.startsWith(accessibleName)) return
    }
    throw new Error(`no focusable control named ${accessibleName}`)
  }
  for (const [peer, name] of [[alice, 'alice-keys'], [bob, 'bob-keys']] as const) {
    await tabTo(peer.page, 'Your name')
    await peer.page.keyboard.type(name)
    await peer.page.keyboard.press('Enter')
    await waitForRtcEvent(peer.page, 'rtc-registered')
  }
  await tabTo(alice.page, 'Name to call')
  await alice.page.keyboard.type('bob-keys')
  await alice.page.keyboard.press('Enter')
  await waitForRtcEvent(bob.page, 'rtc-incoming')
  await tabTo(bob.page, 'Accept')
  await bob.page.keyboard.press('Enter')
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-connected'), waitForRtcEvent(bob.page, 'rtc-connected')])
  await tabTo(bob.page, 'Mute')
  await bob.page.keyboard.press('Space')
  t.equal(await bob.page.getByRole('button', { name: 'Unmute', exact: true }).count(), 1, 'Mute toggles: the button now says Unmute')
  await tabTo(bob.page, 'Hang up')
  await bob.page.keyboard.press('Enter')
  const [endedA, endedB] = await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
  t.same([endedA.detail.reason, endedB.detail.reason], ['hangup', 'hangup'])
})

t.test('no camera allowed: calling and accepting fail with media_denied; the call keeps ringing until the callee decides', async (t) => {
  const alice = await openPeer(t, browser, 'about:blank', 'alice')
  await alice.context.addInitScript(() => {
    // What a user who clicks "Block" in the permission prompt gets.
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'))
  })
  await alice.page.goto(`${url}/`)
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await Promise.all([register(alice.page, 'alice-denied'), register(bob.page, 'bob-denied')])

  await dial(alice.page, 'bob-denied')
  const denied = await waitForRtcEvent(alice.page, 'rtc-error')
  t.equal(denied.detail.code, 'media_denied', 'calling says why')
  t.equal(await elementState(alice.page), 'registered')

  await dial(bob.page, 'alice-denied')
  await waitForRtcEvent(alice.page, 'rtc-incoming').catch(async (error: Error) => {
    throw new Error(`${error.message}; the caller: ${await describePage(bob.page)}`)
  })
  await alice.page.getByRole('button', { name: 'Accept', exact: true }).click()
  const again = await waitForRtcEvent(alice.page, 'rtc-error', { after: 1 })
  t.equal(again.detail.code, 'media_denied', 'accepting says why')
  t.match(again.detail, { devices: ['microphone', 'camera'], why: /^(denied|blocked)$/ }, 'which devices, and why')
  // A device is no reject: the call keeps ringing, and alice decides (answer receive-only, or reject).
  t.equal(await elementState(alice.page), 'ringing', 'still ringing after the failed Accept')
  t.same(await rtcEvents(bob.page, 'rtc-ended'), [], 'bob never reads “declined” for alice’s camera')
  await alice.page.getByRole('button', { name: 'Reject', exact: true }).click()
  const ended = await waitForRtcEvent(bob.page, 'rtc-ended')
  t.equal(ended.detail.reason, 'rejected', 'alice’s own Reject is a reject')
  t.equal(await elementState(alice.page), 'registered')
  t.equal(await elementState(bob.page), 'registered')
})

t.test('no-video: the caller sends sound only and still sees the callee', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await alice.page.locator('rtc-call').evaluate((element) => element.setAttribute('no-video', ''))
  await Promise.all([register(alice.page, 'alice-novideo'), register(bob.page, 'bob-novideo')])
  await bob.page.locator('rtc-call').evaluate((element: any) => (element.autoAnswer = true))
  await dial(alice.page, 'bob-novideo')
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-connected'), waitForRtcEvent(bob.page, 'rtc-connected')])
  t.ok((await remoteVideoState(alice.page)).framesDecoded, 'alice sees bob')
  const bobReceives = await bob.page.locator('rtc-call').evaluate((element: any) => ({
    video: element.remoteStream?.getVideoTracks().length ?? 0,
    audio: element.remoteStream?.getAudioTracks().length ?? 0,
  }))
  t.same(bobReceives, { video: 0, audio: 1 }, 'bob hears alice and gets no video from her')
  const aliceSends = await alice.page.locator('rtc-call').evaluate((element: any) => element.localStream.getTracks().map((track: MediaStreamTrack) => track.kind))
  t.same(aliceSends, ['audio'], 'alice’s camera is never opened')
  t.equal(await alice.page.getByRole('button', { name: 'Camera off', exact: true }).isDisabled(), true)
  await alice.page.getByRole('button', { name: 'Hang up', exact: true }).click()
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
})

t.test("the element's API: listNames(), callId, accept(), no-audio, and clearing name unregisters", async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  const el = (page: Page) => page.locator('rtc-call')
  await el(bob.page).evaluate((element) => element.setAttribute('no-audio', ''))
  await Promise.all([register(alice.page, 'alice-api'), register(bob.page, 'bob-api')])
  const names = await el(alice.page).evaluate((element: any) => element.listNames())
  t.ok(names.includes('alice-api') && names.includes('bob-api'), `listNames() has both: ${JSON.stringify(names)}`)
  t.equal(await el(alice.page).evaluate((element: any) => element.callId), null, 'no callId before a call')

  await dial(alice.page, 'bob-api')
  const incoming = await waitForRtcEvent(bob.page, 'rtc-incoming', { detail: { from: 'alice-api' } })
  t.equal(await el(bob.page).evaluate((element: any) => element.callId), incoming.detail.callId, "the callee's callId while it rings")
  t.equal(await el(alice.page).evaluate((element: any) => element.callId), incoming.detail.callId, "the caller's")
  await el(bob.page).evaluate((element: any) => element.accept())
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-connected'), waitForRtcEvent(bob.page, 'rtc-connected')])
  const bobSends = await el(bob.page).evaluate((element: any) => element.localStream.getTracks().map((track: MediaStreamTrack) => track.kind))
  t.same(bobSends, ['video'], 'no-audio: bob’s microphone is never opened')
  const aliceReceives = await el(alice.page).evaluate((element: any) => ({
    video: element.remoteStream?.getVideoTracks().length ?? 0,
    audio: element.remoteStream?.getAudioTracks().length ?? 0,
  }))
  t.same(aliceReceives, { video: 1, audio: 0 }, 'alice sees bob and gets no sound from him')
  await alice.page.getByRole('button', { name: 'Hang up', exact: true }).click()
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
  t.equal(await el(bob.page).evaluate((element: any) => element.callId), null, 'no callId after the call')

  // Clearing `name` unregisters: the element is idle, and the server no longer lists the name.
  await el(bob.page).evaluate((element: any) => (element.name = ''))
  await bob.page.waitForFunction(() => (document.querySelector('rtc-call') as any).state === 'idle', undefined, { timeout: 60_000 })
  await until(async () => !(await el(alice.page).evaluate((element: any) => element.listNames())).includes('bob-api'), 'bob-api to leave listNames()')
  t.equal(await el(bob.page).evaluate((element) => element.getAttribute('name') ?? ''), '', 'the reflected attribute is empty too')
})
