/**
 * Screenshots of the demo page in every state of the element, at phone and desktop width, in English and
 * German, with real Chromium: `npx tsx scripts/screenshots.ts [out-dir]` (default .screenshots/, not
 * committed). Idle, registered (self-preview), calling, ringing, in a call, muted, ended, the redial
 * cool-down, missed calls, an error, and camera and microphone not allowed (a browser without the fake
 * permission prompt: headless Chromium dismisses it).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { buildApp } from '../server/app.js'
import { CHROMIUM_ARGS, CHROMIUM_PATH, buildWeb } from '../test/helpers/browser.js'

const out = process.argv[2] ?? '.screenshots'
await mkdir(out, { recursive: true })
buildWeb()
const app = await buildApp({ logger: false })
await app.listen({ port: 0, host: '127.0.0.1' })
const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
const profiles: string[] = []
const launch = async (args: readonly string[]) => {
  const profile = await mkdtemp(join(tmpdir(), 'sigpost-shots-'))
  profiles.push(profile)
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    ignoreDefaultArgs: true,
    args: [...args, `--user-data-dir=${profile}`, '--remote-debugging-pipe', '--no-startup-window'],
  })
}
const browser = await launch(CHROMIUM_ARGS)
const asking = await launch(CHROMIUM_ARGS.filter((arg) => arg !== '--use-fake-ui-for-media-stream'))

// A function, not a string: a string predicate is compiled in the page, which the demo page's CSP forbids.
const until = (page: Page, fn: (arg: any) => unknown, arg?: unknown) => page.waitForFunction(fn, arg, { timeout: 30_000, polling: 100 })
const phone = (page: Page) => page.locator('rtc-call')
const state = (page: Page, wanted: string) => until(page, (s) => (document.querySelector('rtc-call') as any).state === s, wanted)

try {
  for (const width of [375, 1280]) {
    for (const lang of ['en', 'de']) {
      const height = width < 600 ? 812 : 860
      const open = async (b: Browser = browser) => {
        const context = await b.newContext({ viewport: { width, height } })
        const page = await context.newPage()
        await page.goto(`${url}/`)
        await phone(page).evaluate((el: any, lang: string) => ((el.lang = lang), (document.documentElement.lang = lang)), lang)
        return page
      }
      const tag = `${width}-${lang}`
      const shot = (page: Page, name: string) => page.screenshot({ path: join(out, `${tag}-${name}.png`), fullPage: true })
      const [alice, bob, carol] = [await open(), await open(), await open(asking)]
      await shot(alice, '01-idle')
      await phone(alice).evaluate((el: any) => el.register('Alice Smith').catch(() => {}))
      await until(alice, () => (document.querySelector('rtc-call') as any).shadowRoot.querySelector('[part~="error"]'))
      await shot(alice, '02-error-name')
      const names = { alice: `alice-${tag}`, bob: `bob-${'b'.repeat(40)}-${tag}`, carol: `carol-${tag}` }
      await Promise.all([
        phone(alice).evaluate((el: any, n: string) => el.register(n), names.alice),
        phone(bob).evaluate((el: any, n: string) => el.register(n), names.bob),
        phone(carol).evaluate((el: any, n: string) => el.register(n), names.carol),
      ])
      await alice.locator('rtc-call [part~="preview-video"]').waitFor()
      await shot(alice, '03-registered-preview')
      // carol (camera and microphone not allowed) is called by alice and presses Accept.
      await phone(alice).evaluate((el: any, to: string) => el.call(to), names.carol)
      await state(carol, 'ringing')
      await shot(alice, '04-calling')
      await shot(carol, '05-ringing')
      await carol.locator('rtc-call [part~="accept-button"]').click()
      await until(carol, () => (document.querySelector('rtc-call') as any).shadowRoot.querySelector('[part~="go-on-button"]'))
      await shot(carol, '06-camera-denied')
      await phone(alice).evaluate((el: any) => el.hangUp())
      await until(carol, () => (document.querySelector('rtc-call') as any).missedCalls.length === 1)
      await shot(carol, '07-missed')
      // bob (a 40-character name) calls alice; she accepts; bob mutes.
      await phone(bob).evaluate((el: any, to: string) => el.call(to), names.alice)
      await state(alice, 'ringing')
      await phone(alice).evaluate((el: any) => el.accept())
      await until(alice, () => (document.querySelector('rtc-call') as any).quality !== null)
      await shot(alice, '08-in-call')
      await phone(alice).evaluate((el: any) => ((el.muted = true), (el.cameraOff = true)))
      await until(bob, () => !(document.querySelector('rtc-call') as any).peerAudio)
      await shot(alice, '09-muted')
      await phone(bob).evaluate((el: any) => el.hangUp())
      await until(alice, () => (document.querySelector('rtc-call') as any).endedReason === 'hangup')
      await shot(alice, '10-ended')
      // The cool-down: carol rejects alice, alice calls again at once.
      await phone(alice).evaluate((el: any, to: string) => el.call(to), names.carol)
      await state(carol, 'ringing')
      await phone(carol).evaluate((el: any) => el.reject())
      await state(alice, 'registered')
      await phone(alice).evaluate((el: any, to: string) => el.call(to).catch(() => {}), names.carol)
      await until(alice, () => (document.querySelector('rtc-call') as any).shadowRoot.querySelector('[part~="error"]'))
      await shot(alice, '11-cool-down')
      for (const page of [alice, bob, carol]) await page.context().close()
    }
  }
} finally {
  await Promise.all([browser.close(), asking.close()])
  await app.close()
  for (const profile of profiles) await rm(profile, { recursive: true, force: true })
}
console.log(`screenshots in ${out}/`)
