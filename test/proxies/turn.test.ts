/**
 * UDP blocked: the media must go through TURN over TCP. coturn listens on TCP only (no UDP, DTLS or TLS
 * listeners) with the TURN REST API shared secret; sigpost hands out time-limited credentials for it;
 * both pages force `ice-transport-policy="relay"`, so no host or srflx path can carry the call.
 * With the right secret the call connects through the relay (the selected candidate pair is relay/tcp
 * in getStats(), and coturn logs the allocations); with a wrong one no candidate can be gathered, and the
 * element ends the call as `failed` instead of waiting for a connection that cannot come.
 */
import t from 'tap'
import type { Browser, Page } from 'playwright-core'
import type { Test } from 'tap'
import { startServer } from '../helpers/server.js'
import { buildWeb, elementState, launchBrowser, openPeer, rtcEvents, waitForRtcEvent } from '../helpers/browser.js'
import { startCoturn } from '../helpers/middleboxes.js'
import { callConnectHangUp, dial, register } from './flow.js'

buildWeb()
const secret = 'sigpost-test-turn-secret'
const coturn = await startCoturn(t, { secret })
const browser = await launchBrowser(t)

interface IceLog {
  candidates: string[]
  errors: Array<{ errorCode: number; url: string; errorText: string }>
  /** Gathering rounds that completed (kept after the call ends: a closed connection may never complete). */
  completed: number
}

/** Remembers every RTCPeerConnection the page creates (window.__pcs), so the test can read getStats(). */
function recordPeerConnections(): void {
  const Native = window.RTCPeerConnection
  const w = window as unknown as { __pcs: RTCPeerConnection[] }
  w.__pcs = []
  const ice: IceLog = { candidates: [], errors: [], completed: 0 }
  ;(window as unknown as { __ice: IceLog }).__ice = ice
  window.RTCPeerConnection = class extends Native {
    constructor(configuration?: RTCConfiguration) {
      super(configuration)
      w.__pcs.push(this)
      this.addEventListener('icecandidate', (event) => {
        if (event.candidate) ice.candidates.push(event.candidate.candidate)
        else ice.completed++
      })
      this.addEventListener('icecandidateerror', (event) => {
        const e = event as RTCPeerConnectionIceErrorEvent
        ice.errors.push({ errorCode: e.errorCode, url: e.url, errorText: e.errorText })
      })
    }
  } as typeof RTCPeerConnection
}

async function relayPeer(t: Test, b: Browser, url: string, label: string, attributes: Record<string, string> = {}): Promise<Page> {
  const peer = await openPeer(t, b, 'about:blank', label)
  await peer.context.addInitScript(recordPeerConnections)
  await peer.page.goto(url)
  await peer.page.locator('rtc-call').evaluate((element, attributes) => {
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value)
  }, { 'ice-transport-policy': 'relay', ...attributes })
  return peer.page
}

/**
 * The selected candidate pair of the page's latest peer connection, from getStats(). Right after
 * `connected` the stats may not show the nominated pair as succeeded yet, so it reads until they do
 * (bounded by a 60 s guard, after which the last reading is returned and the assertion says why).
 */
async function selectedPair(page: Page) {
  return page.evaluate(async () => {
    const pc = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.at(-1)!
    const guard = Date.now() + 60_000
    let stats: any[] = []
    let pair: any
    for (;;) {
      stats = [...(await pc.getStats()).values()]
      const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId)
      pair = stats.find((s) => s.id === transport?.selectedCandidatePairId)
      if (pair?.state === 'succeeded' || Date.now() > guard) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const local = stats.find((s) => s.id === pair?.localCandidateId)
    const remote = stats.find((s) => s.id === pair?.remoteCandidateId)
    return {
      policy: pc.getConfiguration().iceTransportPolicy,
      state: pair?.state,
      local: { type: local?.candidateType, relayProtocol: local?.relayProtocol, url: local?.url },
      remote: { type: remote?.candidateType },
    }
  })
}

t.test('UDP blocked: the call connects through coturn over TCP with credentials from sigpost', async (t) => {
  const { url } = await startServer(t, { logger: false, turnSecret: secret, turnUrls: [coturn.turnUrl], stunUrls: [] })
  const alice = await relayPeer(t, browser, `${url}/`, 'alice')
  const bob = await relayPeer(t, browser, `${url}/`, 'bob')
  await Promise.all([register(alice, 'alice-turn'), register(bob, 'bob-turn')])
  const iceServers = await fetch(`${url}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'probe-turn' }),
  }).then((res) => res.json()).then((body) => body.iceServers)
  t.match(iceServers, [{ urls: [coturn.turnUrl], username: /^\d+:probe-turn$/, credential: /\S/ }], 'sigpost hands out TURN REST API credentials')

  let checked = false
  await callConnectHangUp(t, alice, bob, 'bob-turn', 'TURN/TCP relay only', {
    inCall: async () => {
      for (const [who, page] of [['alice', alice], ['bob', bob]] as const) {
        const pair = await selectedPair(page)
        t.equal(pair.policy, 'relay', `${who}'s peer connection is relay-only`)
        t.equal(pair.state, 'succeeded', `${who} has a selected candidate pair`)
        t.equal(pair.local.type, 'relay', `${who}'s side of it is a TURN relay candidate`)
        t.equal(pair.local.relayProtocol, 'tcp', `${who} reaches coturn over TCP`)
        t.equal(pair.remote.type, 'relay', `the other side of ${who}'s pair is a relay candidate too`)
      }
      checked = true
    },
  })
  t.ok(checked)
  const log = coturn.log()
  t.match(log, /ALLOCATE processed, success/, 'coturn logged successful allocations')
  t.match(log, /realm <sigpost\.test> user <\d+:alice-turn>/, 'for alice’s time-limited user name')
  t.match(log, /realm <sigpost\.test> user <\d+:bob-turn>/, 'and for bob’s')
})

t.test('a wrong shared secret: coturn refuses the credentials, the call cannot connect and ends as `failed`', async (t) => {
  const { url } = await startServer(t, { logger: false, turnSecret: 'not-the-secret', turnUrls: [coturn.turnUrl], stunUrls: [] })
  // No connect time-out: only "gathering ended with nothing" may end this call, or the test times out.
  const alice = await relayPeer(t, browser, `${url}/`, 'alice', { 'connect-timeout': '0' })
  const bob = await relayPeer(t, browser, `${url}/`, 'bob', { 'connect-timeout': '0' })
  await Promise.all([register(alice, 'alice-badturn'), register(bob, 'bob-badturn')])
  await dial(alice, 'bob-badturn')
  const incoming = await waitForRtcEvent(bob, 'rtc-incoming')
  const callId = incoming.detail.callId
  await bob.getByRole('button', { name: 'Accept', exact: true }).click()

  // With no candidate at all ICE never even starts checking (Chromium stays `new`, it never fails): the
  // side that finds gathering over with nothing ends the call as `failed`, the other sees it end (as
  // `hangup`, or `failed` too if it got there first). Which side comes first is a race; both end.
  const [endedA, endedB] = await Promise.all([waitForRtcEvent(alice, 'rtc-ended'), waitForRtcEvent(bob, 'rtc-ended')])
  t.same([endedA.detail.callId, endedB.detail.callId], [callId, callId], 'the call ends on both sides')
  t.ok([endedA, endedB].some((e) => e.detail.reason === 'failed'), `as \`failed\` on at least one side (alice: ${endedA.detail.reason}, bob: ${endedB.detail.reason})`)
  t.equal(await elementState(alice), 'registered', 'alice is no longer in the call')
  t.equal(await elementState(bob), 'registered', 'nor is bob')
  t.same(await rtcEvents(alice, 'rtc-connected'), [], 'alice was never connected')
  t.same(await rtcEvents(bob, 'rtc-connected'), [], 'bob was never connected')

  // Why: the TURN allocation was refused (401), so not a single candidate was gathered. A side that ended
  // as `failed` did so after its gathering completed; the other may have been closed before it completed.
  for (const [who, page, ended] of [['alice', alice, endedA], ['bob', bob, endedB]] as const) {
    const ice = await page.evaluate(() => (window as unknown as { __ice: IceLog }).__ice)
    t.same(ice.candidates, [], `${who} gathered no candidate at all`)
    if (ended.detail.reason !== 'failed') continue
    t.ok(ice.completed > 0, `${who}'s gathering completed before ${who} gave up`)
    t.ok(ice.errors.some((e) => e.errorCode === 401 && e.url.startsWith(coturn.url)), `${who}'s browser reports 401 from coturn (icecandidateerror)`)
    t.match(coturn.log(), new RegExp(`user <\\d+:${who}-badturn>[^\\n]*401`), `coturn refused ${who}’s credentials`)
  }
  t.notMatch(coturn.log(), /user <\d+:\w+-badturn>[^\n]*ALLOCATE processed, success/, 'no allocation for either')
})
