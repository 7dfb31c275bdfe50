/**
 * Media through a corporate proxy (API.md, third edition): the caller sits in an office whose only way out
 * is squid with Debian's rules (CONNECT to 443 only) and whose UDP is dropped; sigpost (HTTPS) and coturn
 * (TLS on 443) are beyond it, with the callee on an open network (test/helpers/corporate-net.ts builds it
 * from network namespaces, one rig for this file, browsers reused by every subtest).
 *
 * What a user would notice: the call connects through the relay (the caller's selected pair is a local
 * `relay` candidate over `tls`, its tunnel is in squid's log), video moves both ways, the hang-up reaches
 * the other side; and when the operator got TURN wrong, the call ends on both sides as `failed` with a
 * cause that says what is wrong.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import type { Browser } from 'playwright-core'
import type { Browser as FirefoxBrowser } from 'puppeteer-core'
import { buildWeb, recordRtcEvents, type RecordedEvent } from '../helpers/browser.js'
import { FIREFOX_PROXY_PREFS, HOST, TURNS_443, startCorporateNet, type Sigpost } from '../helpers/corporate-net.js'

// Network namespaces need root (CI runs as root; scripts/test.sh installs iproute2, nftables, libnss3-tools).
if (process.getuid?.() !== 0) {
  t.plan(0, 'network namespaces need root')
  process.exit(0)
}
buildWeb()
execFileSync(process.execPath, ['scripts/build-server.mjs'], { cwd: new URL('../..', import.meta.url), stdio: 'ignore' })

const started = Date.now()
const net = await startCorporateNet(t)
const callee = await net.chromium(t, 'internet')
const officeChromium = await net.chromium(t, 'office', { proxy: 'switch' })
t.teardown(() => t.comment(`corporate.test.ts: ${Math.round((Date.now() - started) / 1000)} s with the rig`))

/** A page of either driver: Playwright's and Puppeteer's `evaluate(fn, arg)` agree. */
interface Driven {
  evaluate<A, R>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>
}

interface IceLog {
  candidates: string[]
  errors: Array<{ errorCode: number; url: string; errorText: string }>
}

/** In the page, before its scripts: keeps every RTCPeerConnection (window.__pcs), its candidates and and ICE errors. */
function recordPeerConnections(): void {
  const Native = window.RTCPeerConnection
  const w = window as unknown as { __pcs: RTCPeerConnection[]; __ice: IceLog }
  w.__pcs = []
  w.__ice = { candidates: [], errors: [] }
  window.RTCPeerConnection = class extends Native {
    constructor(configuration?: RTCConfiguration) {
      super(configuration)
      w.__pcs.push(this)
      this.addEventListener('icecandidate', (event) => {
        if (event.candidate?.candidate) w.__ice.candidates.push(event.candidate.candidate)
      })
      this.addEventListener('icecandidateerror', (event) => {
        const e = event as RTCPeerConnectionIceErrorEvent
        w.__ice.errors.push({ errorCode: e.errorCode, url: e.url, errorText: e.errorText })
      })
    }
  } as typeof RTCPeerConnection
}

/** A Chromium page at `url` recording events and peer connections. */
async function chromiumPage(t: Test, browser: Browser, url: string): Promise<Driven> {
  const context = await browser.newContext()
  t.teardown(() => context.close().catch(() => {}))
  await context.addInitScript(recordRtcEvents)
  await context.addInitScript(recordPeerConnections)
  const page = await context.newPage()
  page.on('pageerror', (error) => t.comment(`pageerror: ${error.message}`))
  await page.goto(url)
  return page as unknown as Driven
}

async function firefoxPage(t: Test, browser: FirefoxBrowser, url: string): Promise<Driven> {
  const context = await browser.createBrowserContext()
  t.teardown(() => context.close().catch(() => {}))
  const page = await context.newPage()
  await page.evaluateOnNewDocument(recordRtcEvents)
  await page.evaluateOnNewDocument(recordPeerConnections)
  await page.goto(url)
  return page as unknown as Driven
}

const element = (page: Driven, method: 'register' | 'hangUp', arg?: string) =>
  page.evaluate(({ method, arg }) => (document.querySelector('rtc-call') as any)[method](arg), { method, arg })

/** Waits in the page for the first recorded `type` event whose detail has `detail`'s values; says what was seen if none comes. */
function waitFor(page: Driven, type: string, detail: Record<string, unknown> = {}, timeoutMs = 90_000): Promise<RecordedEvent> {
  return page.evaluate(({ type, detail, timeoutMs }) => new Promise<RecordedEvent>((resolve, reject) => {
    const guard = Date.now() + timeoutMs
    const tick = () => {
      const events = (window as unknown as { __rtc: RecordedEvent[] }).__rtc ?? []
      const found = events.find((e) => e.type === type && Object.entries(detail).every(([k, v]) => e.detail?.[k] === v))
      if (found) return resolve(found)
      if (Date.now() > guard) {
        const seen = events.filter((e) => e.type !== 'click').map((e) => `${e.type} ${JSON.stringify(e.detail)}`).slice(-12)
        return reject(new Error(`no ${type} ${JSON.stringify(detail)} within ${timeoutMs} ms; seen: ${seen.join(' | ')}`))
      }
      setTimeout(tick, 100)
    }
    tick()
  }), { type, detail, timeoutMs })
}

/** Places the call from the page (`call()`, as an app would); resolves with when it was placed (page time). */
const placeCall = (page: Driven, peer: string) =>
  page.evaluate((peer) => {
    const at = performance.now()
    ;(document.querySelector('rtc-call') as any).call(peer).catch((error: Error) => ((window as any).__callError = String(error)))
    return at
  }, peer)

/** The selected candidate pair of the page's latest peer connection (Chromium: the transport's; Firefox: `selected`). */
const selectedPair = (page: Driven) =>
  page.evaluate(async () => {
    const pc = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.at(-1)!
    const guard = Date.now() + 30_000
    let stats: any[] = []
    let pair: any
    for (;;) {
      stats = [...(await pc.getStats()).values()]
      const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId)
      pair = transport
        ? stats.find((s) => s.id === transport.selectedCandidatePairId)
        : stats.find((s) => s.type === 'candidate-pair' && s.selected)
      if (pair?.state === 'succeeded' || Date.now() > guard) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const local = stats.find((s) => s.id === pair?.localCandidateId)
    const remote = stats.find((s) => s.id === pair?.remoteCandidateId)
    return {
      state: pair?.state as string | undefined,
      local: { type: local?.candidateType, relayProtocol: local?.relayProtocol, url: local?.url },
      remote: { type: remote?.candidateType },
    }
  }, null)

/** Video frames decoded by the page's latest peer connection: a first count above 0, then a higher one. */
const framesRising = (page: Driven) =>
  page.evaluate(async () => {
    const pc = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.at(-1)!
    const decoded = async () =>
      [...(await pc.getStats()).values()].filter((s: any) => s.type === 'inbound-rtp' && s.kind === 'video').reduce((n: number, s: any) => n + (s.framesDecoded ?? 0), 0)
    const guard = Date.now() + 30_000
    let first = 0
    while ((first = await decoded()) === 0 && Date.now() < guard) await new Promise((resolve) => setTimeout(resolve, 100))
    let later = first
    while ((later = await decoded()) <= first && Date.now() < guard) await new Promise((resolve) => setTimeout(resolve, 100))
    return { first, later }
  }, null)

const ice = (page: Driven) => page.evaluate(() => (window as unknown as { __ice: IceLog }).__ice, null)

/** squid writes a tunnel's line when it closes: waits (bounded) for a `TCP_TUNNEL/200 ... CONNECT <target>` line. */
async function tunnelLogged(target: string): Promise<string | undefined> {
  const line = new RegExp(`^.* TCP_TUNNEL/200 \\d+ CONNECT ${target.replaceAll('.', '\\.')} .*$`, 'm')
  for (const guard = Date.now() + 30_000; Date.now() < guard; await new Promise((resolve) => setTimeout(resolve, 200))) {
    const found = line.exec(net.squid.accessLog())
    if (found) return found[0]
  }
  return undefined
}

let names = 0
/** Registers a caller and an auto-answering callee on `server`. */
async function pair(t: Test, server: Sigpost, caller: Driven, label: string) {
  const bob = await chromiumPage(t, callee, `${server.url}/`)
  const n = ++names
  const alice = `alice-${label}-${n}`
  const bobName = `bob-${label}-${n}`
  await bob.evaluate(() => void ((document.querySelector('rtc-call') as any).autoAnswer = true), null)
  await Promise.all([element(caller, 'register', alice), element(bob, 'register', bobName)])
  return { bob, alice, bobName }
}

/**
 * The whole positive call from `caller` (in the office) to an auto-answering callee (internet): connected
 * both sides, relay/tls selected by the caller, frames decoded both ways, hang-up delivered, and the TURN
 * tunnel in squid's log. Returns call()→connected in ms.
 */
async function callThroughProxy(t: Test, server: Sigpost, caller: Driven, label: string, turnHost: string = HOST.turn): Promise<number> {
  const { bob, ...who } = await pair(t, server, caller, label)
  const placedAt = await placeCall(caller, who.bobName)
  const [connectedA, connectedB] = await Promise.all([waitFor(caller, 'rtc-connected'), waitFor(bob, 'rtc-connected')])
  t.equal(connectedA.detail.callId, connectedB.detail.callId, 'both sides are connected, in the same call')
  t.equal(connectedA.detail.peer, who.bobName, 'the caller is connected to the callee')
  const ms = Math.round(connectedA.t - placedAt)
  t.comment(`call()→connected, ${label}: ${ms} ms`)

  const selected = await selectedPair(caller)
  t.equal(selected.state, 'succeeded', 'the caller has a selected candidate pair')
  t.equal(selected.local.type, 'relay', 'the caller’s side of it is a TURN relay candidate')
  t.equal(selected.local.relayProtocol, 'tls', 'reached over TLS (through the proxy’s tunnel)')
  for (const [side, page] of [['the caller', caller], ['the callee', bob]] as const) {
    const frames = await framesRising(page)
    t.ok(frames.first > 0 && frames.later > frames.first, `${side} decodes the other’s video (framesDecoded ${frames.first} → ${frames.later})`)
  }

  await element(caller, 'hangUp')
  const ended = await waitFor(bob, 'rtc-ended')
  t.same(ended.detail, { callId: connectedA.detail.callId, reason: 'hangup' }, 'the callee reads the hang-up')
  t.ok(await tunnelLogged(`${turnHost}:443`), `squid's log has the tunnel: TCP_TUNNEL/200 … CONNECT ${turnHost}:443`)
  return ms
}

t.test('Chromium behind the proxy (--proxy-server): the call goes through the proxy’s tunnel to TURN/TLS on 443', async (t) => {
  const server = await net.sigpost(t, { TURN_URLS: TURNS_443 })
  const caller = await chromiumPage(t, officeChromium, `${server.url}/`)
  t.ok(await caller.evaluate(() => isSecureContext, null), 'the page is a secure context (HTTPS, the test CA trusted): the camera is allowed')
  await callThroughProxy(t, server, caller, 'switch')
  t.match(net.coturn.log(), /user <\d+:alice-switch-\d+>: incoming packet ALLOCATE processed, success/, 'coturn allocated a relay for the caller')
  // The same proxy, asked the way docs/operations.md tells an operator to check it.
  t.equal(net.curl('office', ['--proxy', `http://${HOST.proxy}:3128`, '-o', '/dev/null', '-w', '%{http_code}', `${server.url}/`]), '200',
    'curl through the proxy reaches sigpost')
  t.throws(() => net.curl('office', ["--max-time", "5", `${server.url}/`]), 'without the proxy the office reaches nothing')
})

t.test('Chromium with the enterprise policies (proxy and WebRtcIPHandling disable_non_proxied_udp)', async (t) => {
  const managed = await net.chromium(t, 'office', { proxy: 'policy' })
  const server = await net.sigpost(t, { TURN_URLS: TURNS_443 })
  const caller = await chromiumPage(t, managed, `${server.url}/`)
  await callThroughProxy(t, server, caller, 'policy')
  const { candidates } = await ice(caller)
  t.ok(candidates.length > 0 && candidates.every((c) => / typ relay /.test(c)), `the policy leaves only relay candidates (${candidates.length} gathered)`)
})

t.test('Firefox ESR behind the proxy (proxy prefs): relay over TLS through the tunnel', async (t) => {
  const firefox = await net.firefox(t, 'office', FIREFOX_PROXY_PREFS)
  const server = await net.sigpost(t, { TURN_URLS: TURNS_443 })
  const caller = await firefoxPage(t, firefox, `${server.url}/`)
  await callThroughProxy(t, server, caller, 'firefox')
})

t.test('one address, one port 443: sigpost and coturn behind nginx’s SNI routing (the docs’ configuration)', async (t) => {
  const docs = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8')
  const stream = /```nginx\n(stream \{[\s\S]*?ssl_preread[\s\S]*?)```/.exec(docs)?.[1]
  if (!stream) throw new Error('docs/operations.md has no ```nginx block with the `stream` configuration')
  const server = await net.shared(t, stream)
  const caller = await chromiumPage(t, officeChromium, `${server.url}/`)
  await callThroughProxy(t, server, caller, 'shared', HOST.sharedTurn)
  t.match(server.coturnLog(), /ALLOCATE processed, success/, 'the relay came from the coturn behind nginx')
})

/** A call whose relay is misconfigured: both sides end as `failed` with `cause`; returns the caller's page. */
async function failingCall(t: Test, env: { TURN_URLS: string; TURN_SECRET?: string }, label: string, cause: string): Promise<Driven> {
  const server = await net.sigpost(t, env)
  const caller = await chromiumPage(t, officeChromium, `${server.url}/`)
  const { bob, ...who } = await pair(t, server, caller, label)
  // Whichever timer ends the call, the cause comes from what gathering found: a shorter connect time-out
  // than the default 30 s keeps the file lean.
  for (const page of [caller, bob]) await page.evaluate(() => void ((document.querySelector('rtc-call') as any).connectTimeout = 10_000), null)
  await placeCall(caller, who.bobName)
  const [endedA, endedB] = await Promise.all([waitFor(caller, 'rtc-ended'), waitFor(bob, 'rtc-ended')])
  t.match(endedA.detail, { reason: 'failed', cause }, `the caller reads failed: ${cause}`)
  t.match(endedB.detail, { reason: 'failed', cause }, `the callee reads the same`)
  t.equal(endedA.detail.callId, endedB.detail.callId, 'the same call')
  return caller
}

t.test('no TURN configured: the call ends as failed, cause no_relay', async (t) => {
  await failingCall(t, { TURN_URLS: '' }, 'noturn', 'no_relay')
})

t.test('TURN only on 5349 (the proxy refuses it): cause relay_unreachable, and a warning naming that URL', async (t) => {
  const url = `turns:${HOST.turn}:5349?transport=tcp`
  const caller = await failingCall(t, { TURN_URLS: url }, 'turn5349', 'relay_unreachable')
  const warning = await waitFor(caller, 'rtc-warning', { code: 'relay_unreachable' }, 5_000)
  t.match(warning.detail.message, `${HOST.turn}:5349`, 'the warning names the URL that failed')
  t.match(net.squid.accessLog(), new RegExp(`TCP_DENIED/403 \\d+ CONNECT ${HOST.turn.replaceAll('.', '\\.')}:5349`), 'squid refused the tunnel to 5349')
})

t.test('a wrong TURN secret: cause relay_refused', async (t) => {
  await failingCall(t, { TURN_URLS: TURNS_443, TURN_SECRET: 'not-the-secret' }, 'badsecret', 'relay_refused')
  t.match(net.coturn.log(), /user <\d+:alice-badsecret-\d+>[^\n]*401/, 'coturn refused the caller’s credentials')
})
