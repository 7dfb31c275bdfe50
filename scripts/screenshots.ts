/**
 * Screenshots of the demo page in each state of a call, at phone and desktop width, with real Chromium:
 * `npx tsx scripts/screenshots.ts [out-dir]` (default .screenshots/, not committed). Two people register,
 * one misses a call, then they call: ringing, in the call (peer muted, camera off), the device menu, the
 * screen shared, and after the call.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Page } from 'playwright-core'
import { buildApp } from '../server/app.js'
import { CHROMIUM_ARGS, CHROMIUM_PATH, buildWeb } from '../test/helpers/browser.js'

const out = process.argv[2] ?? '.screenshots'
await mkdir(out, { recursive: true })
buildWeb()
const app = await buildApp({ logger: false })
await app.listen({ port: 0, host: '127.0.0.1' })
const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
const profile = await mkdtemp(join(tmpdir(), 'sigpost-shots-'))
const browser = await chromium.launch({
  executablePath: CHROMIUM_PATH,
  ignoreDefaultArgs: true,
  args: [...CHROMIUM_ARGS, '--auto-select-desktop-capture-source=Entire screen', `--user-data-dir=${profile}`, '--remote-debugging-pipe', '--no-startup-window'],
})

// A function, not a string: a string predicate is compiled in the page, which the demo page's CSP forbids.
const until = (page: Page, fn: () => unknown) =>
  page.waitForFunction(fn, undefined, { timeout: 30_000, polling: 200 })
const phone = (page: Page) => page.locator('rtc-call')

try {
  for (const width of [375, 1280]) {
    const height = width < 600 ? 812 : 860
    const open = async () => {
      const context = await browser.newContext({ viewport: { width, height } })
      const page = await context.newPage()
      await page.goto(`${url}/`)
      return page
    }
    const [alice, bob, carol] = [await open(), await open(), await open()]
    const shot = (page: Page, name: string) => page.screenshot({ path: join(out, `${width}-${name}.png`), fullPage: true })
    await shot(alice, '1-idle')
    for (const [page, name] of [[alice, `alice${width}`], [bob, `bob${width}`], [carol, `carol${width}`]] as const) {
      await page.getByLabel('Your name').fill(name)
      await page.getByRole('button', { name: 'Register', exact: true }).click()
      await until(page, () => (document.querySelector('rtc-call') as any).state === 'registered')
    }
    // carol calls alice and gives up: a missed call on alice's side.
    await phone(carol).evaluate((el: any, to: string) => el.call(to), `alice${width}`)
    await until(alice, () => (document.querySelector('rtc-call') as any).state === 'ringing')
    await phone(carol).evaluate((el: any) => el.hangUp())
    await until(alice, () => (document.querySelector('rtc-call') as any).missedCalls.length === 1)
    await alice.getByRole('button', { name: 'Refresh', exact: true }).click()
    await alice.getByRole('button', { name: `Call bob${width}`, exact: true }).waitFor()
    await shot(alice, '2-registered-missed')
    await phone(bob).evaluate((el: any, to: string) => el.call(to), `alice${width}`)
    await until(alice, () => (document.querySelector('rtc-call') as any).state === 'ringing')
    await shot(alice, '3-ringing')
    await alice.getByRole('button', { name: 'Accept', exact: true }).click()
    await until(alice, () => (document.querySelector('rtc-call') as any).quality !== null)
    await shot(alice, '4-in-call')
    await bob.getByRole('button', { name: 'Mute', exact: true }).click()
    await bob.getByRole('button', { name: 'Camera off', exact: true }).click()
    await until(alice, () => !(document.querySelector('rtc-call') as any).peerVideo && !(document.querySelector('rtc-call') as any).peerAudio)
    await alice.getByRole('button', { name: 'Mute', exact: true }).click()
    await shot(alice, '5-peer-muted-camera-off')
    await alice.getByRole('button', { name: 'Devices', exact: true }).click()
    await alice.locator('rtc-call select').first().waitFor()
    await shot(alice, '6-device-menu')
    await alice.keyboard.press('Escape')
    await bob.getByRole('button', { name: 'Camera off', exact: true }).click()
    await phone(bob).evaluate((el: any) => el.shareScreen())
    await until(alice, () => (document.querySelector('rtc-call') as any).peerScreen)
    await shot(bob, '7-sharing')
    await shot(alice, '8-peer-sharing')
    await bob.getByRole('button', { name: 'Hang up', exact: true }).click()
    await until(alice, () => (document.querySelector('rtc-call') as any).endedReason === 'hangup')
    await shot(alice, '9-ended')
    await phone(alice).evaluate((el: any) => (el.lang = 'de'))
    await shot(alice, '10-ended-de')
    for (const page of [alice, bob, carol]) await page.context().close()
  }
} finally {
  await browser.close()
  await app.close()
  await rm(profile, { recursive: true, force: true })
}
console.log(`screenshots in ${out}/`)
