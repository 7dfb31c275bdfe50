/**
 * UDP blocked: the media must go through TURN over TCP. coturn listens on TCP only (no UDP, DTLS or TLS
 * listeners) with the TURN REST API shared secret; sigpost hands out time-limited credentials for it;
 * both pages force `ice-transport-policy="relay"`, so no host or srflx path can carry the call.
 * With the right secret the call connects through the relay (the selected candidate pair is relay/tcp
 * in getStats(), and coturn logs the allocations), and a second TURN URL on a closed port only costs an
 * `rtc-warning` naming it. When no relay can be had, the element ends the call as `failed` on both sides
 * with the same cause (docs/operations.md "Corporate networks", docs/element.md "Why a call could not connect"), instead of waiting for a connection that
 * cannot come: a wrong secret → `relay_refused`, only a closed port → `relay_unreachable`, no TURN at
 * all → `no_relay`.
 */
import t from 'tap'
import type { Browser, Page } from 'playwright-core'
import type { Test } from 'tap'
import { startServer } from '../helpers/server.js'
import { buildWeb, elementState, launchBrowser, openPeer, rtcEvents, waitForRtcEvent } from '../helpers/browser.js'
import { startCoturn } from '../helpers/middleboxes.js'
import { freePort } from '../helpers/redis.js'
import { callConnectHangUp, dial, register } from './flow.js'

buildWeb()
const secret = 'sigpost-test-turn-secret'
const coturn = await startCoturn(t, { secret })
const browser = await launchBrowser(t)
// A TURN URL where nothing listens (a port taken and let go): TCP connections to it are refused at once,
// as a proxy or firewall that refuses the port would (the browser's icecandidateerror 701).
const closedTurnUrl = `turn:127.0.0.1:${await freePort()}?transport=tcp`

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
  const { url } = await startServer(t, { logger: false, turnSecret: secret, turnUrls: [coturn.turnUrl, closedTurnUrl], stunUrls: [] })
  const alice = await relayPeer(t, browser, `${url}/`, 'alice')
  const bob = await relayPeer(t, browser, `${url}/`, 'bob')
  await Promise.all([register(alice, 'alice-turn'), register(bob, 'bob-turn')])
  const iceServers = await fetch(`${url}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'probe-turn' }),
  }).then((res) => res.json()).then((body) => body.iceServers)
  t.match(iceServers, [{ urls: [coturn.turnUrl, closedTurnUrl], username: /^\d+:probe-turn$/, credential: /\S/ }], 'sigpost hands out TURN REST API credentials')

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
  // The closed URL failed on both sides, and each said so once, naming it, though the call connected.
  for (const [who, page] of [['alice', alice], ['bob', bob]] as const) {
    const warnings = (await rtcEvents(page, 'rtc-warning')).map((e) => e.detail)
    t.match(warnings, [{ code: 'relay_unreachable', message: new RegExp(escape(closedTurnUrl)) }], `${who}: one rtc-warning relay_unreachable naming ${closedTurnUrl}`)
    t.equal(warnings.length, 1, `${who}: none for the TURN URL that worked`)
    t.notOk((await rtcEvents(page, 'rtc-ended'))[0]?.detail.cause, `${who}: the hang-up has no cause`)
  }
  const log = coturn.log()
  t.match(log, /ALLOCATE processed, success/, 'coturn logged successful allocations')
  t.match(log, /realm <sigpost\.test> user <\d+:alice-turn>/, 'for alice’s time-limited user name')
  t.match(log, /realm <sigpost\.test> user <\d+:bob-turn>/, 'and for bob’s')
})

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * alice (relay only) calls bob (relay only, auto-answer) on a sigpost handing out `turnUrls`, with no
 * connect time-out: only what gathering found may end the call, or the test times out. Both must end it
 * as `failed` with the same cause, whichever side found out first (alice, at once, with nothing gathered:
 * her call may not even be placed yet; or bob, when he got as far as gathering himself); neither connects.
 */
async function failingCall(t: Test, options: { turnSecret?: string; turnUrls: string[] }, label: string) {
  const { url } = await startServer(t, { logger: false, ...options, stunUrls: [] })
  const alice = await relayPeer(t, browser, `${url}/`, 'alice', { 'connect-timeout': '0' })
  const bob = await relayPeer(t, browser, `${url}/`, 'bob', { 'connect-timeout': '0', 'auto-answer': '' })
  await Promise.all([register(alice, `alice-${label}`), register(bob, `bob-${label}`)])
  await dial(alice, `bob-${label}`)
  const [endedA, endedB] = await Promise.all([waitForRtcEvent(alice, 'rtc-ended'), waitForRtcEvent(bob, 'rtc-ended')])
  t.equal(endedA.detail.callId, endedB.detail.callId, 'the call ends on both sides')
  t.ok(endedA.detail.callId, 'it was placed: rtc-ended names it on both sides')
  t.same((await rtcEvents(alice, 'rtc-error')).map((e) => e.detail.code), [], 'call() did not fail: the call was placed, then ended')
  t.same((await rtcEvents(bob, 'rtc-error')).map((e) => e.detail.code), [], 'bob\'s auto-answer, too late for the call, is no error')
  t.equal(await elementState(alice), 'registered', 'alice is no longer in the call')
  t.equal(await elementState(bob), 'registered', 'bob is not left ringing')
  t.same(await rtcEvents(alice, 'rtc-connected'), [], 'alice was never connected')
  t.same(await rtcEvents(bob, 'rtc-connected'), [], 'bob was never connected')
  const ice = await alice.evaluate(() => (window as unknown as { __ice: IceLog }).__ice)
  t.same(ice.candidates, [], 'alice gathered no candidate at all')
  return { alice, bob, endedA: endedA.detail, endedB: endedB.detail, ice, url }
}

t.test('a wrong shared secret: coturn refuses the credentials, the call ends as `failed` / `relay_refused` on both sides', async (t) => {
  const { alice, bob, endedA, endedB, ice } = await failingCall(t, { turnSecret: 'not-the-secret', turnUrls: [coturn.turnUrl] }, 'badturn')
  t.match(endedA, { reason: 'failed', cause: 'relay_refused' }, 'alice: failed, relay_refused')
  t.match(endedB, { reason: 'failed', cause: 'relay_refused' }, 'bob: the same reason and cause')
  t.ok(ice.errors.some((e) => e.errorCode === 401 && e.url === coturn.turnUrl), 'alice\'s browser reports 401 from coturn (icecandidateerror)')
  t.match((await rtcEvents(alice, 'rtc-warning')).map((e) => e.detail), [{ code: 'relay_refused', message: new RegExp(escape(coturn.turnUrl)) }], 'alice: rtc-warning relay_refused naming the URL')
  t.match(coturn.log(), /user <\d+:alice-badturn>[^\n]*401/, 'coturn refused alice’s credentials')
  t.notMatch(coturn.log(), /user <\d+:\w+-badturn>[^\n]*ALLOCATE processed, success/, 'no allocation for either')
  // The UI says why, in a sentence.
  for (const page of [alice, bob]) {
    await page.locator('rtc-call [part~="ended"]').getByText('The relay server refused the call\'s credentials', { exact: false }).waitFor()
  }
  t.pass('both say "The relay server refused the call\'s credentials…"')
})

t.test('TURN only on a port that refuses connections: `failed` / `relay_unreachable` on both sides, and a warning naming the URL', async (t) => {
  const { alice, endedA, endedB, ice } = await failingCall(t, { turnSecret: secret, turnUrls: [closedTurnUrl] }, 'closedturn')
  t.match(endedA, { reason: 'failed', cause: 'relay_unreachable' }, 'alice: failed, relay_unreachable')
  t.match(endedB, { reason: 'failed', cause: 'relay_unreachable' }, 'bob: the same reason and cause')
  t.ok(ice.errors.some((e) => e.errorCode === 701 && e.url === closedTurnUrl), 'alice\'s browser reports 701 for the closed URL (icecandidateerror)')
  t.match((await rtcEvents(alice, 'rtc-warning')).map((e) => e.detail), [{ code: 'relay_unreachable', message: new RegExp(escape(closedTurnUrl)) }], 'alice: rtc-warning relay_unreachable naming the URL')
})

t.test('no TURN at all and relay only: `failed` / `no_relay` on both sides, in German too', async (t) => {
  const { alice, bob, endedA, endedB } = await failingCall(t, { turnUrls: [] }, 'noturn')
  t.match(endedA, { reason: 'failed', cause: 'no_relay' }, 'alice: failed, no_relay')
  t.match(endedB, { reason: 'failed', cause: 'no_relay' }, 'bob: the same reason and cause')
  t.same(await rtcEvents(alice, 'rtc-warning'), [], 'no TURN URL, nothing to warn about')
  await bob.locator('rtc-call').evaluate((element) => element.setAttribute('lang', 'de'))
  await bob.locator('rtc-call [part~="ended"]').getByText('keinen Relay-Server', { exact: false }).waitFor()
  t.pass('bob\'s element says it in German: "…und dieser Dienst hat keinen Relay-Server…"')
})
