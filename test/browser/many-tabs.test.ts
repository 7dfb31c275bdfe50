/**
 * One name, many tabs (docs/element.md "One name, many tabs"), in real Chromium: pages of one browser
 * context (one profile, one origin) that register the same name elect one holder with Web Locks; the others
 * wait in `standby` (no name_taken), take over when the holder closes or signs out, and `takeOver()` hands
 * the name over between tabs. Only when no tab holds the name does takeOver() go to the server.
 */
import t from 'tap'
import type { Page } from 'playwright-core'
import { buildWeb, elementState, launchBrowser, openPage, openPeer, rtcEvents, waitForRtcEvent } from '../helpers/browser.js'
import { offer, register as registerApi } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'

buildWeb()
const { url } = await startServer(t, { logger: false })
const browser = await launchBrowser(t)

const registerIn = (page: Page, name: string) =>
  page.locator('rtc-call').evaluate((element: any, name) => element.register(name).then(() => element.state, (e: any) => `rejected: ${e.code}`), name)

t.test('a second tab waits in standby, takes the name over with takeOver(), and gets it back when the holder closes', async (t) => {
  const first = await openPeer(t, browser, `${url}/`, 'tab 1')
  const second = await openPage(t, first.context, `${url}/`, 'tab 2')
  t.equal(await registerIn(first.page, 'ann'), 'registered', 'the first tab holds the name')
  t.equal(await registerIn(second, 'ann'), 'standby', 'register() in the second tab resolves, in standby')
  t.same((await rtcEvents(second, 'rtc-standby')).map((e) => e.detail), [{ name: 'ann' }], 'rtc-standby {name}')
  t.same(await rtcEvents(second, 'rtc-error'), [], 'no name_taken')
  await t.resolveMatch(second.getByText('ann is in use in another tab of this browser', { exact: false }).count(), 1, 'the waiting tab says why it waits')

  // Someone calls ann: the holder rings.
  const caller = await registerApi(url, 'caller')
  
  const placed = await caller.post('/v1/calls', { to: 'ann', sdpOffer: offer })
  t.equal(placed.status, 201)
  await waitForRtcEvent(first.page, 'rtc-incoming')
  t.equal(await elementState(second), 'standby', 'the waiting tab does not ring')
  await caller.del(`/v1/calls/${placed.body.callId}`)
  await waitForRtcEvent(first.page, 'rtc-ended')

  // takeOver() in the waiting tab: the holder hands over and waits in turn.
  await second.getByRole('button', { name: 'Use here', exact: true }).click()
  await waitForRtcEvent(second, 'rtc-registered')
  await waitForRtcEvent(first.page, 'rtc-standby')
  t.equal(await elementState(second), 'registered', 'the second tab holds the name now')
  t.equal(await elementState(first.page), 'standby', 'the displaced tab waits')
  t.same([...(await rtcEvents(first.page, 'rtc-error')), ...(await rtcEvents(second, 'rtc-error'))], [], 'no error on either side')

  // The holder closes normally: the waiting tab registers.
  await second.close({ runBeforeUnload: true })
  await waitForRtcEvent(first.page, 'rtc-registered', { after: 1 })
  t.equal(await elementState(first.page), 'registered', 'the waiting tab took the name when the holder closed')
  const again = await caller.post('/v1/calls', { to: 'ann', sdpOffer: offer })
  t.equal(again.status, 201, 'and can be called')
  await waitForRtcEvent(first.page, 'rtc-incoming', { after: 1 })
  await caller.del(`/v1/calls/${again.body.callId}`)
})

t.test('when the holder signs out, a waiting tab registers; takeOver() with no tab holding goes to the server', async (t) => {
  const first = await openPeer(t, browser, `${url}/`, 'tab 1')
  const second = await openPage(t, first.context, `${url}/`, 'tab 2')
  t.equal(await registerIn(first.page, 'bea'), 'registered')
  t.equal(await registerIn(second, 'bea'), 'standby')
  await first.page.getByRole('button', { name: 'Sign out', exact: true }).click()
  await waitForRtcEvent(second, 'rtc-registered')
  t.equal(await elementState(second), 'registered', 'the waiting tab holds the name')
  t.equal(await elementState(first.page), 'idle')

  // Another device holds "cid": no tab of this browser does, so takeOver() asks the server, which refuses
  // in open mode (403 forbidden) — the element does not pretend.
  await registerApi(url, 'cid')
  const bodies: unknown[] = []
  first.page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/v1/sessions') bodies.push(r.postDataJSON())
  })
  const outcome = await first.page.locator('rtc-call').evaluate((element: any) => element.takeOver('cid').then(() => 'resolved', (e: any) => e.code))
  t.same(bodies, [{ name: 'cid', takeOver: true }], 'takeOver: true went to the server')
  t.equal(outcome, 'forbidden', 'and the server refused it in open mode (403 forbidden)')
  t.equal(await elementState(first.page), 'idle', 'the element is not registered after the refusal')
  const plain = await first.page.locator('rtc-call').evaluate((element: any) => element.register('cid').then(() => 'resolved', (e: any) => e.code))
  t.equal(plain, 'name_taken', 'a name held elsewhere, not in this browser, is still name_taken')
})
