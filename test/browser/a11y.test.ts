/**
 * Accessibility audit with axe-core of the demo page and of the element in each state it shows: idle,
 * registered with missed calls, ringing, in a call (peer muted and camera off, own toggles pressed, device
 * menu open, screen shared), after a call with an error, and in German. 0 serious or critical violations.
 */
import { createRequire } from 'node:module'
import t from 'tap'
import type { Page } from 'playwright-core'
import { startServer } from '../helpers/server.js'
import { buildWeb, connectCall, launchBrowser, openPeer, register, waitForRtcEvent } from '../helpers/browser.js'

buildWeb()
const { url } = await startServer(t, { logger: false })
const browser = await launchBrowser(t, { args: ['--auto-select-desktop-capture-source=Entire screen'] })
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js')

interface Violation {
  id: string
  impact: string
  help: string
  nodes: string[]
}

/** axe-core on the whole page (it enters open shadow roots): the serious and critical violations. */
async function audit(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: axePath })
  return page.evaluate(async () => {
    const result = await (window as any).axe.run(document, { resultTypes: ['violations'] })
    return result.violations
      .filter((v: any) => v.impact === 'serious' || v.impact === 'critical')
      .map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n: any) => n.target.join(' ')) }))
  })
}

const el = (page: Page) => page.locator('rtc-call')

t.test('demo page and element: no serious or critical violation in any state', async (t) => {
  // bypassCSP: axe is injected as a script into the page.
  const alice = await openPeer(t, browser, `${url}/`, 'alice', { bypassCSP: true })
  const bob = await openPeer(t, browser, `${url}/`, 'bob', { bypassCSP: true })
  const carol = await openPeer(t, browser, `${url}/`, 'carol', { bypassCSP: true })
  const check = async (page: Page, state: string) => t.same(await audit(page), [], `${state}: 0 serious or critical`)

  await check(alice.page, 'idle')
  await Promise.all([register(alice.page, 'alice-ax'), register(carol.page, 'carol-ax')])
  await el(carol.page).evaluate((e: any) => e.call('alice-ax'))
  await waitForRtcEvent(alice.page, 'rtc-incoming')
  await check(alice.page, 'ringing')
  await el(carol.page).evaluate((e: any) => e.hangUp())
  await waitForRtcEvent(alice.page, 'rtc-missed')
  await alice.page.getByRole('button', { name: 'Refresh', exact: true }).click()
  await alice.page.getByRole('button', { name: 'Call carol-ax', exact: true }).waitFor()
  await check(alice.page, 'registered, with a missed call and the names list')
  await alice.page.getByRole('button', { name: 'Devices', exact: true }).click()
  await alice.page.getByLabel('Camera', { exact: true }).waitFor()
  await check(alice.page, 'registered, device menu open')

  await el(alice.page).evaluate((e: any) => e.unregister())
  await connectCall(alice.page, bob.page, 'alice-ax', 'bob-ax')
  await el(bob.page).evaluate((e: any) => ((e.muted = true), (e.cameraOff = true)))
  await waitForRtcEvent(alice.page, 'rtc-peer-media', { detail: { audio: false, video: false } })
  await waitForRtcEvent(alice.page, 'rtc-quality')
  await alice.page.getByRole('button', { name: 'Mute', exact: true }).click()
  await check(alice.page, 'in a call: peer muted and camera off, own Mute pressed, quality shown')
  await check(bob.page, 'in a call: own Mute and Camera off pressed')
  await alice.page.getByRole('button', { name: 'Devices', exact: true }).click()
  await alice.page.getByLabel('Microphone', { exact: true }).waitFor()
  await check(alice.page, 'in a call, device menu open')
  await el(bob.page).evaluate((e: any) => e.shareScreen())
  await waitForRtcEvent(alice.page, 'rtc-peer-media', { detail: { screen: true } })
  await check(bob.page, 'sharing a screen')
  await check(alice.page, 'the peer shares a screen')

  await bob.page.getByRole('button', { name: 'Hang up', exact: true }).click()
  await waitForRtcEvent(alice.page, 'rtc-ended')
  await el(alice.page).evaluate((e: any) => e.call('nobody-here').catch(() => {}))
  await alice.page.getByRole('alert').waitFor()
  await check(alice.page, 'after a call, with an error')
  await el(alice.page).evaluate((e: any) => (e.lang = 'de'))
  await check(alice.page, 'German')
})
