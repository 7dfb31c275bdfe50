/**
 * UDP blocked: the media must go through TURN over TCP. coturn listens on TCP only (no UDP, DTLS or TLS
 * listeners) with the TURN REST API shared secret; sigpost hands out time-limited credentials for it;
 * both pages force `ice-transport-policy="relay"`, so no host or srflx path can carry the call.
 * With the right secret the call connects through the relay (the selected candidate pair is relay/tcp
 * in getStats(), and coturn logs the allocations); with a wrong one it does not connect at all.
 */
import t from 'tap'
import type { Browser, Page } from 'playwright-core'
import type { Test } from 'tap'
import { startServer } from '../helpers/server.js'
import { buildWeb, launchBrowser, openPeer, rtcEvents, waitForRtcEvent } from '../helpers/browser.js'
import { startCoturn } from '../helpers/middleboxes.js'
import { callConnectHangUp, dial, register } from './flow.js'

buildWeb()
const secret = 'sigpost-test-turn-secret'
const coturn = await startCoturn(t, { secret })
const browser = await launchBrowser(t)

interface IceLog {
  candidates: string[]
  errors: Array<{ errorCode: number; url: string; errorText: string }>
}

/** Remembers every RTCPeerConnection the page creates (window.__pcs), so the test can read getStats(). */
function recordPeerConnections(): void {
  const Native = window.RTCPeerConnection
  const w = window as unknown as { __pcs: RTCPeerConnection[] }
  w.__pcs = []
  const ice: IceLog = { candidates: [], errors: [] }
  ;(window as unknown as { __ice: IceLog }).__ice = ice
  window.RTCPeerConnection = class extends Native {
    constructor(configuration?: RTCConfiguration) {
      super(configuration)
      w.__pcs.push(this)
      this.addEventListener('icecandidate', (event) => event.candidate && ice.candidates.push(event.candidate.candidate))
      this.addEventListener('icecandidateerror', (event) => {
        const e = event as RTCPeerConnectionIceErrorEvent
        ice.errors.push({ errorCode: e.errorCode, url: e.url, errorText: e.errorText })
      })
    }
  } as typeof RTCPeerConnection
}

async function relayPeer(t: Test, b: Browser, url: string, label: string): Promise<Page> {
  const peer = await openPeer(t, b, 'about:blank', label)
  await peer.context.addInitScript(recordPeerConnections)
  await peer.page.goto(url)
  await peer.page.locator('rtc-call').evaluate((element) => element.setAttribute('ice-transport-policy', 'relay'))
  return peer.page
}

/** The selected candidate pair of the page's latest peer connection, from getStats(). */
async function selectedPair(page: Page) {
  return page.evaluate(async () => {
    const pc = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.at(-1)!
    const stats = [...(await pc.getStats()).values()] as any[]
    const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId)
    const pair = stats.find((s) => s.id === transport?.selectedCandidatePairId)
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

t.test('a wrong shared secret: coturn refuses the credentials and the call never connects', async (t) => {
  const { url } = await startServer(t, { logger: false, turnSecret: 'not-the-secret', turnUrls: [coturn.turnUrl], stunUrls: [] })
  const alice = await relayPeer(t, browser, `${url}/`, 'alice')
  const bob = await relayPeer(t, browser, `${url}/`, 'bob')
  await Promise.all([register(alice, 'alice-badturn'), register(bob, 'bob-badturn')])
  await dial(alice, 'bob-badturn')
  const incoming = await waitForRtcEvent(bob, 'rtc-incoming')
  await bob.getByRole('button', { name: 'Accept', exact: true }).click()

  // Each side finishes gathering without a single candidate: the TURN allocation was refused (401).
  for (const [who, page] of [['alice', alice], ['bob', bob]] as const) {
    const gathered = await page
      .waitForFunction(() => {
        const w = window as unknown as { __pcs: RTCPeerConnection[]; __ice: IceLog }
        const pc = w.__pcs.at(-1)
        return pc?.iceGatheringState === 'complete' && { candidates: w.__ice.candidates, errors: w.__ice.errors }
      }, undefined, { timeout: 60_000 })
      .then((handle) => handle.jsonValue() as Promise<Pick<IceLog, 'candidates' | 'errors'>>)
    t.same(gathered.candidates, [], `${who} gathered no candidate at all`)
    t.ok(gathered.errors.some((e) => e.errorCode === 401 && e.url.startsWith(coturn.url)), `${who}'s browser reports 401 from coturn (icecandidateerror)`)
  }
  const log = coturn.log()
  t.match(log, /user <\d+:alice-badturn>[^\n]*401/, 'coturn refused alice’s credentials')
  t.match(log, /user <\d+:bob-badturn>[^\n]*401/, 'and bob’s')
  t.notMatch(log, /user <\d+:\w+-badturn>[^\n]*ALLOCATE processed, success/, 'no allocation for either')
  t.same(await rtcEvents(alice, 'rtc-connected'), [], 'alice is not connected')
  t.same(await rtcEvents(bob, 'rtc-connected'), [], 'bob is not connected')

  // With no candidate at all, Chromium's ICE stays `new` (it never starts checking, so never fails):
  // the element waits forever instead of ending the call. Proposed fix in .helper-requests.md.
  t.todo('the element ends the call as `failed` when ICE cannot even start (needs a client change, see .helper-requests.md)', async (t) => {
    // At this point gathering is complete on both sides and nothing can ever connect.
    const ended = (await rtcEvents(alice, 'rtc-ended')).map((e) => e.detail)[0]
    t.same(ended, { callId: incoming.detail.callId, reason: 'failed' })
  })
  // Clean up: alice gives up by hand, as a user would.
  await alice.getByRole('button', { name: 'Hang up', exact: true }).click()
  const [endedA, endedB] = await Promise.all([waitForRtcEvent(alice, 'rtc-ended'), waitForRtcEvent(bob, 'rtc-ended')])
  t.same([endedA.detail.reason, endedB.detail.reason], ['hangup', 'hangup'], 'a hang-up by hand ends it on both sides')
})
