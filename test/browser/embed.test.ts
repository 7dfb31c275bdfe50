/**
 * Embedding: two `<rtc-call>` on one page call each other, and a page on another origin that holds only
 * the two-line snippet of docs/element.md calls someone on sigpost's own demo page.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { startServer } from '../helpers/server.js'
import {
  buildWeb,
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

t.test('two <rtc-call> on one page call each other, independently', async (t) => {
  const { page, context } = await openPeer(t, browser, 'about:blank', 'two')
  // Served on the server's origin by fulfilling the URL, so that /rtc-call.js is same-origin here.
  await context.route(`${url}/two-phones.html`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><title>two phones</title><link rel="icon" href="data:,">
        <script type="module" src="/rtc-call.js"></script>
        <rtc-call id="left" name="left-phone"></rtc-call>
        <rtc-call id="right" name="right-phone" auto-answer transport="poll"></rtc-call>`,
    }),
  )
  await page.goto(`${url}/two-phones.html`)
  const [left, right] = await Promise.all([
    waitForRtcEvent(page, 'rtc-registered', { target: 'left' }),
    waitForRtcEvent(page, 'rtc-registered', { target: 'right' }),
  ])
  t.same([left.detail, right.detail], [{ name: 'left-phone' }, { name: 'right-phone' }], 'the name attribute registers')
  t.same((await rtcEvents(page, 'rtc-transport', { target: 'right' })).map((e) => e.detail.transport), ['poll'])

  const leftPhone = page.locator('#left')
  await leftPhone.getByLabel('Name to call').fill('right-phone')
  await leftPhone.getByRole('button', { name: 'Call', exact: true }).click()
  const incoming = await waitForRtcEvent(page, 'rtc-incoming', { target: 'right' })
  t.equal(incoming.detail.from, 'left-phone')
  const [connectedL, connectedR] = await Promise.all([
    waitForRtcEvent(page, 'rtc-connected', { target: 'left' }),
    waitForRtcEvent(page, 'rtc-connected', { target: 'right' }),
  ])
  t.equal(connectedL.detail.peer, 'right-phone')
  t.equal(connectedR.detail.peer, 'left-phone')
  t.same(await rtcEvents(page, 'rtc-incoming', { target: 'left' }), [], 'the caller itself does not ring')
  for (const id of ['left', 'right']) {
    const video = await remoteVideoState(page, `#${id}`)
    t.ok(video.framesDecoded && video.width > 0, `#${id} shows the other's live video`, { video })
    t.equal(video.muted, false, `#${id} plays the other's sound: the page had a click, nothing to unmute`)
    t.equal(await page.locator(`#${id}`).getByRole('button', { name: 'Unmute speaker' }).count(), 0)
    t.equal(await elementState(page, `#${id}`), 'in-call')
  }
  // Re-rendering (here: Mute) must leave the remote video alone: assigning its srcObject again, even the
  // same stream, reloads it, which synchronously empties and pauses it (and it goes blank) mid-call.
  const muting = await page.locator('#left').evaluate(async (element: any) => {
    const video = element.shadowRoot.querySelector('video.remote') as HTMLVideoElement
    const seen = () => ({ paused: video.paused, readyState: video.readyState })
    const before = seen()
    element.shadowRoot.querySelector('[part~="mute-button"]').click()
    await element.updateComplete
    return { before, after: seen(), label: element.shadowRoot.querySelector('[part~="mute-button"]').textContent.trim() }
  })
  t.equal(muting.label, 'Unmute', 'muted')
  t.same(muting.after, muting.before, "muting does not reload the other's video")
  t.ok((await remoteVideoState(page, '#left')).framesDecoded, "#left still shows the other's live video after muting")

  await captureTracks(page, '#right')
  await page.locator('#right').getByRole('button', { name: 'Hang up', exact: true }).click()
  const [endedL, endedR] = await Promise.all([
    waitForRtcEvent(page, 'rtc-ended', { target: 'left' }),
    waitForRtcEvent(page, 'rtc-ended', { target: 'right' }),
  ])
  t.same([endedL.detail.reason, endedR.detail.reason], ['hangup', 'hangup'])
  t.ok((await capturedTrackStates(page)).every((s) => s === 'ended'), 'the right phone released its tracks')

  // Removing one element releases it and frees its name; the other one carries on.
  const goodbye = page.waitForResponse((r) => r.url().endsWith('/v1/sessions/current') && r.request().method() === 'DELETE')
  await page.locator('#right').evaluate((element) => element.remove())
  t.equal((await goodbye).status(), 204, 'the removed element ends its session')
  await t.resolveMatch(
    page.locator('#left').evaluate((element: any) =>
      element.call('right-phone').then(
        () => 'placed',
        (error: any) => error.code,
      ),
    ),
    'peer_not_found',
    'a removed element is no longer registered',
  )
  t.equal(await elementState(page, '#left'), 'registered')
})

t.test('a page on another origin embeds the element with the two-line snippet and calls the demo page', async (t) => {
  const snippet = `<script type="module" src="${url}/rtc-call.js"></script><rtc-call server="${url}"></rtc-call>`
  const other = http.createServer((request, response) => {
    if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      response.end(`<!doctype html>\n${snippet}\n`)
    } else {
      response.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => other.close(resolve)))
  const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}/`
  t.not(new URL(otherUrl).origin, new URL(url).origin, 'another origin')

  const guest = await openPeer(t, browser, otherUrl, 'guest')
  const host = await openPeer(t, browser, `${url}/`, 'host')
  await guest.page.getByLabel('Your name').fill('guest')
  await guest.page.getByRole('button', { name: 'Register', exact: true }).click()
  await host.page.getByLabel('Your name').fill('host')
  await host.page.getByRole('button', { name: 'Register', exact: true }).click()
  await Promise.all([waitForRtcEvent(guest.page, 'rtc-registered'), waitForRtcEvent(host.page, 'rtc-registered')])

  await guest.page.getByLabel('Name to call').fill('host')
  await guest.page.getByRole('button', { name: 'Call', exact: true }).click()
  const incoming = await waitForRtcEvent(host.page, 'rtc-incoming')
  t.equal(incoming.detail.from, 'guest')
  await host.page.getByRole('button', { name: 'Accept', exact: true }).click()
  await Promise.all([waitForRtcEvent(guest.page, 'rtc-connected'), waitForRtcEvent(host.page, 'rtc-connected')])
  const [guestSees, hostSees] = [await remoteVideoState(guest.page), await remoteVideoState(host.page)]
  t.ok(guestSees.framesDecoded, 'the guest sees the host', { video: guestSees })
  t.ok(hostSees.framesDecoded, 'the host sees the guest', { video: hostSees })
  await guest.page.getByRole('button', { name: 'Hang up', exact: true }).click()
  const [endedG, endedH] = await Promise.all([waitForRtcEvent(guest.page, 'rtc-ended'), waitForRtcEvent(host.page, 'rtc-ended')])
  t.same([endedG.detail.reason, endedH.detail.reason], ['hangup', 'hangup'])
  t.same(await rtcEvents(guest.page, 'rtc-error'), [], 'no errors on the embedding page (CORS included)')
})
