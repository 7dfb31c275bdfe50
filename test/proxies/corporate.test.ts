/**
 * Media through a corporate proxy (docs/operations.md "Corporate networks"): the caller sits in an office whose only way out
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
import { buildWeb } from '../helpers/browser.js'
import { chromiumPage, element, firefoxPage, framesRising, ice, placeCall, selectedPair, waitFor, type Driven } from '../helpers/driven-page.js'
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
async function failingCall(t: Test, env: { TURN_URLS: string; TURN_SECRET?: string }, slot: number, label: string, cause: string): Promise<Driven> {
  const t0 = Date.now()
  const server = await net.sigpost(t, env, slot)
  const caller = await chromiumPage(t, officeChromium, `${server.url}/`)
  const { bob, ...who } = await pair(t, server, caller, label)
  // Whichever timer ends the call, the cause comes from what gathering found: a shorter connect time-out
  // than the default 30 s keeps the file lean.
  for (const page of [caller, bob]) await page.evaluate(() => void ((document.querySelector('rtc-call') as any).connectTimeout = 10_000), null)
  const startedAt = Date.now()
  const placedAt = await placeCall(caller, who.bobName)
  const [endedA, endedB] = await Promise.all([waitFor(caller, 'rtc-ended'), waitFor(bob, 'rtc-ended')])
  t.comment(`${label}: set up in ${Math.round((startedAt - t0) / 1000)} s, call()→rtc-ended ${Math.round(endedA.t - placedAt)} ms; the caller's icecandidateerror events: ${JSON.stringify((await ice(caller)).errors.map((e) => e.errorCode))}`)
  t.match(endedA.detail, { reason: 'failed', cause }, `the caller reads failed: ${cause}`)
  t.match(endedB.detail, { reason: 'failed', cause }, `the callee reads the same`)
  t.equal(endedA.detail.callId, endedB.detail.callId, 'the same call')
  return caller
}

// The three misconfigurations at once (each on its own sigpost): they spend their time waiting, not computing.
t.test('TURN misconfigured: the call ends as failed on both sides with a cause that says what is wrong', async (t) => {
  t.jobs = 3
  t.test('no TURN configured: cause no_relay', { buffered: true }, async (t) => {
    await failingCall(t, { TURN_URLS: '' }, 1, 'noturn', 'no_relay')
  })

  t.test('TURN only on 5349 (the proxy refuses it): cause relay_unreachable, and a warning naming that URL', { buffered: true }, async (t) => {
    const url = `turns:${HOST.turn}:5349?transport=tcp`
    const caller = await failingCall(t, { TURN_URLS: url }, 2, 'turn5349', 'relay_unreachable')
    const warning = await waitFor(caller, 'rtc-warning', { code: 'relay_unreachable' }, 5_000)
    t.match(warning.detail.message, `${HOST.turn}:5349`, 'the warning names the URL that failed')
    t.match(net.squid.accessLog(), new RegExp(`TCP_DENIED/403 \\d+ CONNECT ${HOST.turn.replaceAll('.', '\\.')}:5349`), 'squid refused the tunnel to 5349')
  })

  t.test('a wrong TURN secret: cause relay_refused', { buffered: true }, async (t) => {
    await failingCall(t, { TURN_URLS: TURNS_443, TURN_SECRET: 'not-the-secret' }, 3, 'badsecret', 'relay_refused')
    t.match(net.coturn.log(), /user <\d+:alice-badsecret-\d+>[^\n]*401/, 'coturn refused the caller’s credentials')
  })
})
