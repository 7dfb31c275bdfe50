/**
 * Verified names in real Chromium, as a product embeds sigpost: the application's own server (another
 * origin) serves the page, publishes its JWKS and mints an ES256 JWT for whoever is signed in; the page's
 * `<rtc-call>` gets it through its `credentials` callback. Two such pages call each other, and no request
 * URL of either page ever carries a session token (SSE opens with tickets, long-poll sends the header).
 * A third page of the same user takes the name over: the first page's call ends, it fires
 * `rtc-error {code: "replaced"}` and returns to idle; the peer sees `peer_gone`.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { Page } from 'playwright-core'
import { startServer } from '../helpers/server.js'
import { buildWeb, elementState, launchBrowser, openPage, openPeer, rtcEvents, waitForRtcEvent } from '../helpers/browser.js'
import { mint, newKey } from '../helpers/jwks.js'

buildWeb()
const key = await newKey('ES256', 'app-key-1')

/** The application backend: the page, its JWKS, and a JWT for the user named in the page's URL. */
const app = http.createServer(async (request, response) => {
  const url = new URL(request.url ?? '/', 'http://app')
  if (url.pathname === '/.well-known/jwks.json') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [key.publicJwk] }))
  } else if (url.pathname === '/sigpost-token') {
    // A real backend would take the user from its own session cookie; here the page says who it is.
    const user = url.searchParams.get('user') ?? ''
    response.writeHead(200, { 'content-type': 'text/plain' }).end(await mint(key, { sub: user, aud: 'sigpost', exp: Math.floor(Date.now() / 1000) + 60 }))
  } else if (url.pathname === '/') {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(url.searchParams.get('transport') ?? 'auto', url.searchParams.get('server') ?? sigpost))
  } else {
    response.writeHead(404).end()
  }
})
await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise((resolve) => {
  app.closeAllConnections()
  app.close(resolve)
}))
const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`
const { url: sigpost } = await startServer(t, { logger: false, authJwksUrl: `${appUrl}/.well-known/jwks.json`, authAudience: 'sigpost' })
const browser = await launchBrowser(t)

function page(transport: string, server: string): string {
  return `<!doctype html>
<script type="module" src="${server}/rtc-call.js"></script>
<rtc-call id="phone" server="${server}" transport="${transport}" auto-answer></rtc-call>
<script type="module">
  const user = new URLSearchParams(location.search).get('user')
  document.querySelector('#phone').credentials = async () => (await fetch('/sigpost-token?user=' + user)).text()
</script>`
}

/** Every request URL of the page, and the session tokens its registrations received. */
function watch(p: Page) {
  const urls: string[] = []
  const tokens: string[] = []
  p.on('request', (request) => urls.push(request.url()))
  p.on('response', async (response) => {
    if (response.request().method() === 'POST' && new URL(response.url()).pathname === '/v1/sessions' && response.status() === 201) {
      tokens.push((await response.json()).token)
    }
  })
  return { urls, tokens }
}

const phone = (p: Page) => p.locator('#phone')

t.test('two pages register through credentials callbacks and call; no session token in any URL; a third page takes over', async (t) => {
  const alice = await openPeer(t, browser, `${appUrl}/?user=alice`, 'alice')
  const bob = await openPeer(t, browser, `${appUrl}/?user=bob&transport=poll`, 'bob')
  const seenA = watch(alice.page)
  const seenB = watch(bob.page)
  // register() without a name: the JWT names the session.
  await Promise.all([phone(alice.page).evaluate((e: any) => e.register()), phone(bob.page).evaluate((e: any) => e.register())])
  t.same((await waitForRtcEvent(alice.page, 'rtc-registered')).detail, { name: 'alice' })
  t.same((await waitForRtcEvent(bob.page, 'rtc-registered')).detail, { name: 'bob' })
  t.equal(await phone(alice.page).evaluate((e: any) => e.name), 'alice', 'the element learns its name from the registration')
  // auto registers on long-poll, then upgrades once its probe (opened with a ticket too) proves the path.
  await waitForRtcEvent(alice.page, 'rtc-transport', { detail: { transport: 'sse' } })
  t.equal(await phone(alice.page).evaluate((e: any) => e.transportInUse), 'sse')
  t.equal(await phone(bob.page).evaluate((e: any) => e.transportInUse), 'poll')

  const callId = await phone(alice.page).evaluate((e: any) => e.call('bob'))
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-connected'), waitForRtcEvent(bob.page, 'rtc-connected')])
  t.pass('the call connects')

  const tokens = [...seenA.tokens, ...seenB.tokens]
  t.equal(tokens.length, 2, 'both pages got a session token')
  const urls = [...seenA.urls, ...seenB.urls]
  const aliceStreams = seenA.urls.filter((u) => u.startsWith(`${sigpost}/v1/events?`))
  t.ok(aliceStreams.length >= 2 && aliceStreams.every((u) => u.startsWith(`${sigpost}/v1/events?ticket=`)),
    'alice\'s probe and stream opened with tickets')
  t.ok(aliceStreams.some((u) => u.includes('probe=1')) && aliceStreams.some((u) => !u.includes('probe=1')), 'a probe, then the real stream')
  t.equal(new Set(aliceStreams.map((u) => new URL(u).searchParams.get('ticket'))).size, aliceStreams.length, 'a fresh ticket for each')
  t.ok(seenB.urls.some((u) => u.startsWith(`${sigpost}/v1/poll?`)), 'bob long-polled')
  const leaks = urls.filter((u) => tokens.some((token) => u.includes(token) || u.includes(encodeURIComponent(token))))
  t.same(leaks, [], `no request URL of either page (${urls.length} requests) contains a session token`)
  t.notOk(urls.some((u) => /[?&]token=/.test(u)), 'no ?token= at all')

  // The same user opens the page again elsewhere and takes the name over.
  const again = await openPeer(t, browser, `${appUrl}/?user=alice`, 'alice-2')
  const seenC = watch(again.page)
  const taken = await phone(again.page).evaluate((e: any) => e.register().then(() => 'registered', (error: any) => error.code))
  t.equal(taken, 'name_taken', 'without takeOver the name is held')
  await phone(again.page).evaluate((e: any) => e.takeOver())
  t.same((await waitForRtcEvent(again.page, 'rtc-registered')).detail, { name: 'alice' }, 'takeOver() registers the name here')
  t.match((await waitForRtcEvent(alice.page, 'rtc-error', { detail: { code: 'replaced' } })).detail, { code: 'replaced' },
    'the first page is told its session was taken over')
  t.same((await waitForRtcEvent(alice.page, 'rtc-ended')).detail, { callId, reason: 'hangup' }, 'its call ends')
  t.equal(await elementState(alice.page, '#phone'), 'idle', 'and it is idle')
  t.same((await waitForRtcEvent(bob.page, 'rtc-ended')).detail, { callId, reason: 'peer_gone' }, 'the peer sees peer_gone')
  t.equal(await elementState(bob.page, '#phone'), 'registered')

  const second = await phone(bob.page).evaluate((e: any) => e.call('alice'))
  const incoming = await waitForRtcEvent(again.page, 'rtc-incoming')
  t.equal(incoming.detail.callId, second, 'the new page takes alice\'s calls')
  await Promise.all([waitForRtcEvent(again.page, 'rtc-connected'), waitForRtcEvent(bob.page, 'rtc-connected', { after: 1 })])
  t.same(await rtcEvents(alice.page, 'rtc-incoming'), [], 'the replaced page did not ring')
  t.equal(await elementState(alice.page, '#phone'), 'idle')
  const everyToken = [...seenA.tokens, ...seenB.tokens, ...seenC.tokens]
  t.equal(everyToken.length, 3)
  const everyUrl = [...seenA.urls, ...seenB.urls, ...seenC.urls]
  t.same(everyUrl.filter((u) => everyToken.some((token) => u.includes(token))), [], 'nor of the third page, to the end')
})

t.test('one browser, many tabs: after the holder tab crashes a waiting tab takes the name over at once, but never back from another device', async (t) => {
  // A long grace: without a take-over, the waiting tab would wait minutes for the crashed tab's session.
  const { url: slow } = await startServer(t, { logger: false, authJwksUrl: `${appUrl}/.well-known/jwks.json`, authAudience: 'sigpost', graceMs: 300_000 })
  const pageUrl = `${appUrl}/?user=carol&server=${encodeURIComponent(slow)}`
  const first = await openPeer(t, browser, pageUrl, 'carol-1')
  const second = await openPage(t, first.context, pageUrl, 'carol-2')
  await phone(first.page).evaluate((e: any) => e.register('carol'))
  await waitForRtcEvent(first.page, 'rtc-registered')
  await phone(second).evaluate((e: any) => e.register('carol'))
  await waitForRtcEvent(second, 'rtc-standby')

  // The holder's tab crashes: no goodbye reaches the server, its session would live on for graceMs.
  const crashed = first.page.waitForEvent('crash')
  const cdp = await first.context.newCDPSession(first.page)
  void cdp.send('Page.crash').catch(() => {}) // answers never: the page is gone
  await crashed
  t.same((await waitForRtcEvent(second, 'rtc-registered')).detail, { name: 'carol' }, 'the waiting tab holds the name now')
  t.equal(await elementState(second, '#phone'), 'registered')

  // Now the name is taken over from another device while a third tab of this browser waits for it.
  const third = await openPage(t, first.context, pageUrl, 'carol-3')
  await phone(third).evaluate((e: any) => e.register('carol'))
  await waitForRtcEvent(third, 'rtc-standby')
  const attempts: number[] = []
  const secondAttempt = new Promise<void>((resolve) => {
    third.on('response', (response) => {
      if (response.request().method() !== 'POST' || new URL(response.url()).pathname !== '/v1/sessions') return
      attempts.push(response.status())
      if (attempts.length === 2) resolve()
    })
  })
  const device = await openPeer(t, browser, pageUrl, 'carol-phone')
  await phone(device.page).evaluate((e: any) => e.takeOver('carol'))
  await waitForRtcEvent(device.page, 'rtc-registered')
  t.match((await waitForRtcEvent(second, 'rtc-error')).detail, { code: 'replaced' }, 'the holder tab is told')
  // Granted the name, the third tab asks for it and retries (the other device may let it go), but never
  // with takeOver: the second request is the one a take-over would have been.
  await secondAttempt
  t.same(attempts.slice(0, 2), [409, 409], 'the waiting tab finds the name held, and does not take it back')
  t.same(await rtcEvents(device.page, 'rtc-error'), [], 'the other device keeps the name')
  t.equal(await elementState(device.page, '#phone'), 'registered')
})
