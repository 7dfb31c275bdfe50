/**
 * Chromium ↔ Firefox ESR on the demo page: calls both ways over SSE and forced long-poll, hang-up, reject,
 * what the peer sends (mute, camera off) shown across browsers, and a Firefox user leaving the page in a
 * call — without a `network_error` in Firefox's console (it rejects a leaving page's pending fetches before
 * `pagehide`). Firefox runs over WebDriver BiDi (puppeteer-core); Chromium through Playwright.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import type { Page as FirefoxPage } from 'puppeteer-core'
import { startServer } from '../helpers/server.js'
import { buildWeb, elementState, launchBrowser, openPeer, register, remoteVideoState, waitForRtcEvent, type Transport } from '../helpers/browser.js'
import { firefoxSeesVideo, launchFirefox, openFirefoxPeer, waitForFirefoxEvent } from '../helpers/firefox.js'

buildWeb()
const { url } = await startServer(t, { logger: false })
const chromium = await launchBrowser(t)
const firefox = await launchFirefox(t)

const ff = {
  /** A property of the page's element. */
  get: (page: FirefoxPage, property: string) => page.evaluate((property: string) => (document.querySelector('rtc-call') as any)[property], property),
  /** Calls a method of the page's element (resolves with its result). */
  call: (page: FirefoxPage, method: string, ...args: unknown[]) =>
    page.evaluate((method: string, args: unknown[]) => (document.querySelector('rtc-call') as any)[method](...args), method, args),
  set: (page: FirefoxPage, property: string, value: unknown) =>
    page.evaluate((property: string, value: unknown) => void ((document.querySelector('rtc-call') as any)[property] = value), property, value),
  /** Clicks a button of the element (by part) like a user: Puppeteer's pierce selector reaches into the shadow root. */
  click: (page: FirefoxPage, part: string) => page.locator(`pierce/[part~="${part}"]`).click(),
  /** The text of a part of the element (a CSS selector within it, e.g. `[part~="ended"] p`). */
  text: (page: FirefoxPage, selector: string) =>
    page.evaluate((selector: string) => (document.querySelector('rtc-call') as any).shadowRoot.querySelector(selector)?.textContent?.replace(/\s+/g, ' ').trim() ?? null, selector),
}

async function registerFirefox(page: FirefoxPage, name: string, transport: Transport) {
  await ff.set(page, 'transport', transport)
  await ff.call(page, 'register', name)
  return waitForFirefoxEvent(page, 'rtc-registered')
}

const expected = { sse: 'sse', poll: 'poll' } as const

/** An HTTP relay on a loopback port in front of the server that can hold `/candidates` POSTs unanswered. */
async function holdingRelay(t: Test, upstream: string) {
  const target = new URL(upstream)
  const pending: http.ServerResponse[] = []
  let signal: () => void
  const relay = {
    url: '',
    holdCandidates: false,
    held: new Promise<void>((resolve) => (signal = resolve)),
  }
  const server = http.createServer((req, res) => {
    if (relay.holdCandidates && req.method === 'POST' && req.url?.endsWith('/candidates')) {
      pending.push(res)
      signal()
      return
    }
    const forward = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    forward.on('error', () => res.destroy())
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(() => {
    for (const res of pending) res.destroy()
    server.closeAllConnections()
    server.close()
  })
  return relay
}

for (const transport of ['sse', 'poll'] as const) {
  t.test(`Chromium ↔ Firefox both ways over ${transport}: accept, media indicators, hang up, reject`, async (t) => {
    const chrome = await openPeer(t, chromium, `${url}/`, 'chromium')
    const fox = await openFirefoxPeer(t, firefox, `${url}/`, 'firefox')
    const c = `chrome-${transport}`
    const f = `fox-${transport}`
    await register(chrome.page, c, transport)
    await registerFirefox(fox.page, f, transport)
    t.equal(await ff.get(fox.page, 'transportInUse'), expected[transport], `Firefox receives over ${transport}`)

    // Chromium calls Firefox; Firefox accepts with its Accept button.
    await chrome.page.getByLabel('Name to call').fill(f)
    await chrome.page.getByRole('button', { name: 'Call', exact: true }).click()
    const incoming = await waitForFirefoxEvent(fox.page, 'rtc-incoming')
    t.equal(incoming.detail.from, c)
    await ff.click(fox.page, 'accept-button')
    const [connectedC, connectedF] = await Promise.all([waitForRtcEvent(chrome.page, 'rtc-connected'), waitForFirefoxEvent(fox.page, 'rtc-connected')])
    t.same([connectedC.detail.peer, connectedF.detail.peer], [f, c])
    const chromeSees = await remoteVideoState(chrome.page)
    t.ok(chromeSees.framesDecoded && chromeSees.width > 0, 'Chromium shows Firefox’s video', { chromeSees })
    const foxSees = await firefoxSeesVideo(fox.page)
    t.ok(foxSees.width > 0, `Firefox shows Chromium’s video (${foxSees.width}x${foxSees.height})`)

    // Firefox mutes with its button: Chromium shows it. Chromium turns its camera off: Firefox shows it.
    await ff.click(fox.page, 'mute-button')
    const muted = await waitForRtcEvent(chrome.page, 'rtc-peer-media', { detail: { audio: false } })
    t.same(muted.detail, { audio: false, video: true, screen: false })
    await t.resolveMatch(chrome.page.locator('rtc-call [part~="peer-muted"]').textContent(), `${f} is muted`)
    await chrome.page.getByRole('button', { name: 'Camera off', exact: true }).click()
    const cameraOff = await waitForFirefoxEvent(fox.page, 'rtc-peer-media', { detail: { video: false } })
    t.same(cameraOff.detail, { audio: true, video: false, screen: false })
    t.equal(await ff.text(fox.page, '[part~="peer-camera-off"]'), `${c}: camera off`, 'Firefox shows “camera off” with the name')
    t.equal(await ff.get(fox.page, 'peerVideo'), false)
    // The button says what a press does: "Camera on" while the camera is off.
    await chrome.page.getByRole('button', { name: 'Camera on', exact: true }).click()
    await waitForFirefoxEvent(fox.page, 'rtc-peer-media', { detail: { video: true } })

    // Firefox hangs up.
    await ff.click(fox.page, 'hangup-button')
    const [endedC, endedF] = await Promise.all([waitForRtcEvent(chrome.page, 'rtc-ended'), waitForFirefoxEvent(fox.page, 'rtc-ended')])
    t.same([endedC.detail.reason, endedF.detail.reason], ['hangup', 'hangup'])

    // Firefox calls Chromium: Chromium accepts, and hangs up.
    await ff.call(fox.page, 'call', c)
    await waitForRtcEvent(chrome.page, 'rtc-incoming')
    await chrome.page.getByRole('button', { name: 'Accept', exact: true }).click()
    await Promise.all([waitForRtcEvent(chrome.page, 'rtc-connected', { after: 1 }), waitForFirefoxEvent(fox.page, 'rtc-connected', { after: 1 })])
    const chromeSeesAgain = await remoteVideoState(chrome.page)
    t.ok(chromeSeesAgain.framesDecoded, 'Firefox → Chromium: Chromium shows the video', { chromeSeesAgain })
    t.ok((await firefoxSeesVideo(fox.page)).width > 0, 'and Firefox shows Chromium’s')
    await chrome.page.getByRole('button', { name: 'Hang up', exact: true }).click()
    const [endedC2, endedF2] = await Promise.all([waitForRtcEvent(chrome.page, 'rtc-ended', { after: 1 }), waitForFirefoxEvent(fox.page, 'rtc-ended', { after: 1 })])
    t.same([endedC2.detail.reason, endedF2.detail.reason], ['hangup', 'hangup'])

    // Chromium calls Firefox: Firefox rejects.
    await chrome.page.getByLabel('Name to call').fill(f)
    await chrome.page.getByRole('button', { name: 'Call', exact: true }).click()
    await waitForFirefoxEvent(fox.page, 'rtc-incoming', { after: 1 })
    await ff.click(fox.page, 'reject-button')
    const [rejectedC2, rejectedF2] = await Promise.all([waitForRtcEvent(chrome.page, 'rtc-ended', { after: 2 }), waitForFirefoxEvent(fox.page, 'rtc-ended', { after: 2 })])
    t.same([rejectedC2.detail.reason, rejectedF2.detail.reason], ['rejected', 'rejected'])
    // Firefox calls Chromium again: Chromium rejects. (Rejections last: a rejected caller may not call
    // the same name again at once, docs/http-api.md "Blocking and call spam".)
    await ff.call(fox.page, 'call', c)
    await waitForRtcEvent(chrome.page, 'rtc-incoming', { after: 1 })
    await chrome.page.getByRole('button', { name: 'Reject', exact: true }).click()
    const [rejectedC, rejectedF] = await Promise.all([waitForRtcEvent(chrome.page, 'rtc-ended', { after: 3 }), waitForFirefoxEvent(fox.page, 'rtc-ended', { after: 3 })])
    t.same([rejectedC.detail.reason, rejectedF.detail.reason], ['rejected', 'rejected'])
    t.equal(await ff.text(fox.page, '[part~="ended"] p'), `Call with ${c} ended: declined`, 'Firefox reads why')

    t.same(fox.console.filter((m) => m.type === 'error' || m.type === 'warn'), [], 'nothing in Firefox’s console')
  })
}

t.test('Firefox, lang="de": errors are German sentences (a name caught in the browser, a taken name, nobody online), never machine text', async (t) => {
  const fox = await openFirefoxPeer(t, firefox, `${url}/`, 'firefox-de')
  await ff.set(fox.page, 'lang', 'de')
  const machine = /[A-Z][a-z]+Error|Route |POST|GET|\^\[|must match|pattern|\b[a-z]+_[a-z]+\b/
  /** The element's error line once it reads `expected`. */
  const errorLine = async (expected: RegExp) => {
    await fox.page.waitForFunction(
      (source: string) => new RegExp(source).test((document.querySelector('rtc-call') as any).shadowRoot.querySelector('[part~="error"]')?.textContent ?? ''),
      { timeout: 60_000, polling: 100 }, expected.source)
    return (await ff.text(fox.page, '[part~="error"]')) ?? ''
  }
  await ff.call(fox.page, 'register', 'Alice Smith').catch(() => {})
  const invalid = await errorLine(/Dieser Name geht nicht/)
  t.notMatch(invalid, machine, `a name with a space: ${invalid}`)

  // A name held by someone else: the server's 409 name_taken, said in German.
  const chrome = await openPeer(t, chromium, `${url}/`, 'chromium-holder')
  await register(chrome.page, 'fox-de-taken', 'sse')
  await ff.call(fox.page, 'register', 'fox-de-taken').catch(() => {})
  const taken = await errorLine(/von jemand anderem verwendet/)
  t.notMatch(taken, machine, `name_taken: ${taken}`)

  await registerFirefox(fox.page, 'fox-de', 'sse')
  await ff.call(fox.page, 'call', 'niemand-de').catch(() => {})
  const missing = await errorLine(/niemand-de ist gerade nicht erreichbar/)
  t.notMatch(missing, machine, `peer_not_found: ${missing}`)
  t.same(fox.console.filter((m) => m.type === 'error'), [], 'nothing in Firefox’s console')
})

t.test('a Firefox user leaves the page in a call, and while trickling: the peer sees it at once, nothing in the console', async (t) => {
  const chrome = await openPeer(t, chromium, `${url}/`, 'chromium')
  const fox = await openFirefoxPeer(t, firefox, `${url}/`, 'firefox')
  await register(chrome.page, 'chrome-leave')
  await registerFirefox(fox.page, 'fox-leave', 'auto')
  await ff.set(fox.page, 'autoAnswer', true)
  await chrome.page.getByLabel('Name to call').fill('fox-leave')
  await chrome.page.getByRole('button', { name: 'Call', exact: true }).click()
  await Promise.all([waitForRtcEvent(chrome.page, 'rtc-connected'), waitForFirefoxEvent(fox.page, 'rtc-connected')])
  await fox.page.goto('about:blank')
  const ended = await waitForRtcEvent(chrome.page, 'rtc-ended')
  t.equal(ended.detail.reason, 'hangup', 'Chromium sees hangup (the leaving page ended its session), not peer_gone later')
  t.equal(await elementState(chrome.page), 'registered')

  // Again, leaving while a candidate POST of a call just placed is still pending: the page comes through
  // a relay that holds candidate POSTs (a slow network), and the user goes to another page.
  const relay = await holdingRelay(t, url)
  await fox.page.goto(`${relay.url}/`)
  await registerFirefox(fox.page, 'fox-leave', 'auto')
  relay.holdCandidates = true
  void ff.call(fox.page, 'call', 'chrome-leave').catch(() => {})
  await relay.held
  await fox.page.goto(`${relay.url}/?left`)
  const ringing = await waitForRtcEvent(chrome.page, 'rtc-incoming')
  const gone = await waitForRtcEvent(chrome.page, 'rtc-ended', { after: 1 })
  t.equal(gone.detail.callId, ringing.detail.callId)
  t.ok(['cancelled', 'hangup'].includes(gone.detail.reason), `the ringing call ends (${gone.detail.reason})`)
  const noisy = fox.console.filter((m) => /network_error|Cannot reach|rtc-call:/.test(m.text) || m.type === 'error')
  t.same(noisy, [], 'no network_error (or any error) in Firefox’s console')
})
