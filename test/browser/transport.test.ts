/**
 * The transport that never goes deaf, in real Chromium against real processes:
 * 1. a TCP proxy black-holes bob's connections (every open one, idle keep-alive ones included) without
 *    closing them: his stream goes silent, the watchdog resumes it, and a call placed after the stall rings
 *    and connects;
 * 2. HTTPS + HTTP/2 with a self-signed certificate made here (openssl, in a temp dir that is removed):
 *    ten pages of one browser on one origin all register (over HTTP/1.1 the seventh would wait for a free
 *    connection), and two of them call each other.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Page } from 'playwright-core'
import { startBlackHole } from '../helpers/black-hole.js'
import { buildWeb, elementState, launchBrowser, openPage, openPeer, rtcEvents, waitForRtcEvent } from '../helpers/browser.js'
import { startServer } from '../helpers/server.js'
import { callConnectHangUp, register, transports } from '../proxies/flow.js'

buildWeb()
const browser = await launchBrowser(t, { args: ['--ignore-certificate-errors'] })

t.test('a black-holed stream: the watchdog notices the silence, resumes, and a call placed after the stall connects', async (t) => {
  const server = await startServer(t, { logger: false, heartbeatMs: 2000 })
  const hole = await startBlackHole(t, server.url)
  const alice = (await openPeer(t, browser, `${server.url}/`, 'alice')).page
  const bob = (await openPeer(t, browser, `${hole.url}/`, 'bob')).page
  await Promise.all([register(alice, 'alice-bh'), register(bob, 'bob-bh')])
  await waitForRtcEvent(bob, 'rtc-transport', { detail: { transport: 'sse' } })
  const before = hole.connections()
  t.ok(hole.blackHole() >= 1, `every connection of bob's page is black-holed (${hole.holes()}), none closed`)
  await callConnectHangUp(t, alice, bob, 'bob-bh', 'callee black-holed after registering')
  t.ok(hole.connections() > before, 'bob reached the server again on new connections')
  t.same(await rtcEvents(bob, 'rtc-error'), [], 'bob saw no error')
  t.comment(`bob's transports: ${JSON.stringify(await transports(bob))}`)
})

t.test('HTTPS + HTTP/2: ten tabs of one browser on one origin register, and two call each other', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigpost-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  const server = await startServer(t, { logger: false, tlsCertFile: join(dir, 'cert.pem'), tlsKeyFile: join(dir, 'key.pem') })
  t.match(server.url, /^https:/)

  const first = await openPeer(t, browser, `${server.url}/`, 'tab 0', { ignoreHTTPSErrors: true })
  const pages: Page[] = [first.page]
  for (let i = 1; i < 10; i++) pages.push(await openPage(t, first.context, `${server.url}/`, `tab ${i}`))
  const outcome = await Promise.all(pages.map((page, i) =>
    page.locator('rtc-call').evaluate((element: any, name) => element.register(name).then(() => element.state, (e: any) => e.code), `tab-${i}`)))
  t.same(outcome, Array(10).fill('registered'), 'all ten tabs registered')
  const protocol = await pages[9].evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol)
  t.equal(protocol, 'h2', 'over HTTP/2')
  // Each tab decides by itself whether its probe proved streaming within 3 s (a busy machine may keep some on long-poll).
  t.comment(`transports: ${JSON.stringify(await Promise.all(pages.map((page) => transports(page))))}`)
  await callConnectHangUp(t, pages[0], pages[9], 'tab-9', 'HTTP/2, tab 0 → tab 9 of ten')
  t.equal(await elementState(pages[5]), 'registered', 'the other tabs are still registered')
  t.comment(`transports after the call: ${JSON.stringify(await Promise.all(pages.map((page) => transports(page))))}`)
  t.comment(`visibility: ${JSON.stringify(await Promise.all(pages.map((page) => page.evaluate(() => document.visibilityState))))}`)
})

t.test('HTTP/1.1 with six tabs holding streams: a call that cannot get a connection rejects with network_error and says why', async (t) => {
  const server = await startServer(t, { logger: false })
  const first = await openPeer(t, browser, `${server.url}/`, 'tab 1')
  const pages: Page[] = [first.page]
  for (let i = 2; i <= 6; i++) pages.push(await openPage(t, first.context, `${server.url}/`, `tab ${i}`))
  // One after the other: each tab's registration needs a free connection, and each then holds one.
  for (const [i, page] of pages.entries()) await register(page, `six-${i + 1}`)
  const outcome = await first.page.locator('rtc-call').evaluate((element: any) =>
    element.call('six-2').then(() => ({ code: 'resolved', message: '' }), (error: any) => ({ code: error.code, message: error.message })))
  t.equal(outcome.code, 'network_error', 'call() settles: network_error')
  t.match(outcome.message, /six/, 'the message names the six-connections limit')
  t.match(outcome.message, /HTTP\/2/, 'and the way out')
  // The person reads what they can do (the developer's way out, HTTP/2, stays in the error's message).
  await t.resolveMatch(first.page.getByRole('alert').textContent(), /many tabs of this site are open, close some/, 'the element says it in a sentence')
})
