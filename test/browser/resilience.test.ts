/**
 * What happens around the happy path: the callee's page reloads in the middle of a call (with and without
 * its goodbye reaching the server), and ICE candidates that reach the callee before it accepts.
 */
import t from 'tap'
import type { Page } from 'playwright-core'
import type { Test } from 'tap'
import { startServer } from '../helpers/server.js'
import {
  buildWeb,
  dial,
  register,
  captureTracks,
  capturedTrackStates,
  elementState,
  launchBrowser,
  openPage,
  openPeer,
  remoteVideoState,
  rtcEvents,
  waitForRtcEvent,
} from '../helpers/browser.js'

buildWeb()
// A short grace, so that a page that vanished without a word is declared gone quickly; a short ring
// time-out for the unanswered call; no STUN/TURN, so that calls connect with loopback host candidates only.
const { url } = await startServer(t, { logger: false, graceMs: 1500, ringTimeoutMs: 8000, stunUrls: [], turnUrls: [] })
const browser = await launchBrowser(t)



/** `callerCalls`: how many calls the caller's page has connected before (its events are counted). */
async function callAndConnect(t: Test, caller: Page, callee: Page, calleeName: string, callerCalls = 0) {
  await dial(caller, calleeName)
  await waitForRtcEvent(callee, 'rtc-incoming')
  await callee.getByRole('button', { name: 'Accept', exact: true }).click()
  await Promise.all([waitForRtcEvent(caller, 'rtc-connected', { after: callerCalls }), waitForRtcEvent(callee, 'rtc-connected')])
  t.ok((await remoteVideoState(caller)).framesDecoded, 'the caller sees the callee')
}

for (const goodbye of [true, false]) {
  t.test(`the callee's page reloads mid-call (${goodbye ? 'its goodbye reaches the server' : 'its tab crashes: no goodbye'})`, async (t) => {
    const suffix = goodbye ? 'bye' : 'lost'
    const alice = await openPeer(t, browser, `${url}/`, 'alice')
    const bob = await openPeer(t, browser, `${url}/`, 'bob')
    await Promise.all([register(alice.page, `alice-${suffix}`), register(bob.page, `bob-${suffix}`)])
    await callAndConnect(t, alice.page, bob.page, `bob-${suffix}`)
    await captureTracks(alice.page)

    // Without the goodbye (DELETE /v1/sessions/current with keepalive on pagehide) the server only
    // learns that bob is gone when his session's grace runs out. A crashed tab says nothing (page.route and
    // setOffline do not stop a keepalive request sent from pagehide, so the test crashes the tab).
    if (goodbye) {
      await bob.page.reload()
    } else {
      const crashed = bob.page.waitForEvent('crash')
      const cdp = await bob.context.newCDPSession(bob.page)
      void cdp.send('Page.crash').catch(() => {}) // answers never: the page is gone
      await crashed
      // The same person opens the page again.
      bob.page = await openPage(t, bob.context, `${url}/`, 'bob again')
    }
    const ended = await waitForRtcEvent(alice.page, 'rtc-ended')
    t.equal(ended.detail.reason, goodbye ? 'hangup' : 'peer_gone', `alice sees the call end (${ended.detail.reason})`)
    t.ok((await capturedTrackStates(alice.page)).every((s) => s === 'ended'), 'alice’s camera is released')
    t.equal(await elementState(alice.page), 'registered')

    // The reloaded page gets the name back and can be called again.
    await register(bob.page, `bob-${suffix}`)
    await callAndConnect(t, alice.page, bob.page, `bob-${suffix}`, 1)
    t.equal(await elementState(bob.page), 'in-call')
    await bob.page.getByRole('button', { name: 'Hang up', exact: true }).click()
    const again = await waitForRtcEvent(alice.page, 'rtc-ended', { after: 1 })
    t.equal(again.detail.reason, 'hangup')
  })
}

t.test('candidates that reach the callee before it accepts are applied (trickle ICE, no ICE servers)', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  // bob long-polls, so that the test can see what reached his page, and when.
  await Promise.all([register(alice.page, 'alice-trickle'), register(bob.page, 'bob-trickle', 'poll')])

  const delivered: any[] = []
  const endOfCandidates = bob.page.waitForResponse(async (response) => {
    if (!response.url().includes('/v1/poll')) return false
    const { events = [] } = await response.json().catch(() => ({}))
    delivered.push(...events)
    return events.some((e: any) => e.event === 'iceCandidate' && e.data.candidate === null)
  })
  const placed = alice.page.waitForRequest((request) => request.url().endsWith('/v1/calls') && request.method() === 'POST')
  await dial(alice.page, 'bob-trickle')
  const offer = (await placed).postDataJSON().sdpOffer.sdp as string
  t.notMatch(offer, /a=candidate:/, 'the offer carries no candidates: they trickle')
  await waitForRtcEvent(bob.page, 'rtc-incoming')
  await endOfCandidates
  const candidates = delivered.filter((e) => e.event === 'iceCandidate')
  t.ok(candidates.length >= 2, `all of alice's candidates reached bob while it rang (${candidates.length - 1} + end-of-candidates)`)
  t.ok(candidates.slice(0, -1).every((e) => / typ host/.test(e.data.candidate.candidate)), 'host candidates only (no STUN, no TURN)')
  t.equal(await elementState(bob.page), 'ringing', 'and bob has not answered yet')

  await bob.page.getByRole('button', { name: 'Accept', exact: true }).click()
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-connected'), waitForRtcEvent(bob.page, 'rtc-connected')])
  t.ok((await remoteVideoState(bob.page)).framesDecoded, 'bob sees alice: the buffered candidates were applied')
  t.ok((await remoteVideoState(alice.page)).framesDecoded, 'alice sees bob')
  await alice.page.getByRole('button', { name: 'Hang up', exact: true }).click()
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
})

t.test('an ICE restart renegotiates over /sdp while the call stays up', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await Promise.all([register(alice.page, 'alice-restart'), register(bob.page, 'bob-restart')])
  const placed = alice.page.waitForRequest((request) => request.url().endsWith('/v1/calls') && request.method() === 'POST')
  await callAndConnect(t, alice.page, bob.page, 'bob-restart')
  const firstOffer = (await placed).postDataJSON().sdpOffer.sdp as string

  const offered = alice.page.waitForRequest((request) => request.url().endsWith('/sdp'))
  const answered = bob.page.waitForRequest((request) => request.url().endsWith('/sdp'))
  // What the element does by itself when the connection fails (connectionState 'failed').
  await alice.page.locator('rtc-call').evaluate((element: any) => element.flow.session.pc.restartIce())
  const offer = (await offered).postDataJSON().description
  const answer = (await answered).postDataJSON().description
  t.equal(offer.type, 'offer', 'the restarting side offers over /sdp')
  t.equal(answer.type, 'answer', 'the other side answers over /sdp')
  const ufrag = (sdp: string) => sdp.match(/a=ice-ufrag:(\S+)/)?.[1]
  t.not(ufrag(offer.sdp), ufrag(firstOffer), 'with new ICE credentials')
  t.ok((await remoteVideoState(bob.page)).framesDecoded, 'bob still sees alice')
  t.ok((await remoteVideoState(alice.page)).framesDecoded, 'alice still sees bob')
  t.equal(await elementState(alice.page), 'in-call')
  t.equal(await elementState(bob.page), 'in-call')
  await alice.page.getByRole('button', { name: 'Hang up', exact: true }).click()
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
})

t.test('ice-transport-policy="relay" reaches RTCPeerConnection: without TURN no candidate leaves the page', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await alice.page.locator('rtc-call').evaluate((element) => element.setAttribute('ice-transport-policy', 'relay'))
  await Promise.all([register(alice.page, 'alice-relay'), register(bob.page, 'bob-relay')])
  const sent: unknown[] = []
  alice.page.on('request', (request) => {
    if (!request.url().endsWith('/candidates')) return
    const body = request.postDataJSON()
    sent.push(...(body.candidates ?? [body.candidate]))
  })
  await dial(alice.page, 'bob-relay')
  // With no candidate at all the call cannot connect: alice ends it at once as failed (no TURN configured:
  // no_relay), and bob, who was ringing, reads the same.
  const [endedA, endedB] = await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
  t.match(endedA.detail, { reason: 'failed', cause: 'no_relay' }, 'alice: failed, no_relay')
  t.match(endedB.detail, { reason: 'failed', cause: 'no_relay' }, 'bob: the same')
  t.same(sent.filter((candidate) => candidate !== null), [], 'no candidate left the page: relay allows no host candidate')
})

t.test('behind a proxy that buffers SSE, transport=auto falls back to long-poll, tells the page, and calls connect', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, 'about:blank', 'bob')
  // Bob's event stream goes nowhere: no byte, no error, as through a proxy that buffers whole responses.
  await bob.page.route((u) => u.pathname === '/v1/events', () => {})
  await bob.page.goto(`${url}/`)
  await Promise.all([register(alice.page, 'alice-behind'), register(bob.page, 'bob-behind')])
  const transports = await bob.page.evaluate(() => (window as any).__rtc.filter((e: any) => e.type === 'rtc-transport').map((e: any) => e.detail.transport))
  t.same(transports, ['poll'], 'rtc-transport tells the page: poll')
  t.equal(await bob.page.locator('rtc-call').evaluate((element: any) => element.transportInUse), 'poll')
  await t.resolveMatch(bob.page.getByText('In use: poll').count(), 1, 'the demo page shows it')

  await dial(alice.page, 'bob-behind')
  await waitForRtcEvent(bob.page, 'rtc-incoming')
  await bob.page.getByRole('button', { name: 'Accept', exact: true }).click()
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-connected'), waitForRtcEvent(bob.page, 'rtc-connected')])
  t.ok((await remoteVideoState(bob.page)).framesDecoded, 'bob sees alice')
  await bob.page.getByRole('button', { name: 'Hang up', exact: true }).click()
  const ended = await waitForRtcEvent(alice.page, 'rtc-ended')
  t.equal(ended.detail.reason, 'hangup')
})

t.test('a call nobody answers ends as no_answer on both sides', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await Promise.all([register(alice.page, 'alice-ring'), register(bob.page, 'bob-ring')])
  await dial(alice.page, 'bob-ring')
  await waitForRtcEvent(bob.page, 'rtc-incoming')
  const [endedA, endedB] = await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
  t.same([endedA.detail.reason, endedB.detail.reason], ['no_answer', 'no_answer'])
  await bob.page.getByRole('button', { name: 'Accept', exact: true }).waitFor({ state: 'detached' })
  t.equal(await elementState(alice.page), 'registered')
})

t.test('an accepted call that cannot connect ends as failed after connect-timeout', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  // The candidates never reach the other side (neither trickled nor in the SDP): each side has candidates
  // of its own but no pair to check, so ICE neither connects nor fails, and only the time-out ends the call.
  for (const page of [alice.page, bob.page]) {
    await page.route((u) => u.pathname.endsWith('/candidates'), (route) => route.fulfill({ status: 202 }))
    await page.route(
      (u) => u.pathname === '/v1/calls' || u.pathname.endsWith('/accept'),
      (route) => route.continue({ postData: route.request().postData()?.replace(/a=candidate:[^\\]*\\r\\n/g, '') }),
    )
    await page.locator('rtc-call').evaluate((element) => element.setAttribute('connect-timeout', '1500'))
  }
  await Promise.all([register(alice.page, 'alice-stuck'), register(bob.page, 'bob-stuck')])
  await dial(alice.page, 'bob-stuck')
  const incoming = await waitForRtcEvent(bob.page, 'rtc-incoming')
  await bob.page.getByRole('button', { name: 'Accept', exact: true }).click()
  const [endedA, endedB] = await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
  t.same([endedA.detail.callId, endedB.detail.callId], [incoming.detail.callId, incoming.detail.callId], 'the call ends on both sides')
  // Both as `failed`, with the same cause: this server hands out no TURN URL, so there was no relay to
  // go around the missing path (whichever side's time-out came first, the other reads its cause).
  t.match(endedA.detail, { reason: 'failed', cause: 'no_relay' }, 'alice: failed, no_relay')
  t.match(endedB.detail, { reason: 'failed', cause: 'no_relay' }, 'bob: the same')
  t.same(await rtcEvents(alice.page, 'rtc-connected'), [], 'alice was never connected')
  t.same(await rtcEvents(bob.page, 'rtc-connected'), [], 'bob was never connected')
  t.equal(await elementState(alice.page), 'registered')
  t.equal(await elementState(bob.page), 'registered')
})
