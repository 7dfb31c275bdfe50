/**
 * Real Firefox ESR (Debian's /usr/bin/firefox-esr) for end-to-end tests, driven over WebDriver BiDi with
 * puppeteer-core (nothing is downloaded): one browser per test file, one browser context per person.
 *
 * Fake camera and microphone without a prompt; host candidates with real addresses (not mDNS names), since
 * Firefox gathers none on 127.0.0.1 and its peer connects over the machine's other interface address.
 */
import { createRequire } from 'node:module'
import type { Browser, Page, PuppeteerNode } from 'puppeteer-core'
import type { Test } from 'tap'
import { findRtcEvents, recordRtcEvents, type EventQuery, type RecordedEvent } from './browser.js'

process.env.PUPPETEER_SKIP_DOWNLOAD = '1'

// puppeteer-core's CommonJS build: its ES build imports chromium-bidi by a path that tap's TypeScript
// loader resolves wrongly (`BidiMapper.js.js`).
const puppeteer = createRequire(import.meta.url)('puppeteer-core') as PuppeteerNode

export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr'

export const FIREFOX_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  // Autoplay with sound, as after a click on a real page.
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
}

/** Launches Firefox for this test file; closed (and its temporary profile removed by puppeteer) on teardown. */
export async function launchFirefox(t: Test): Promise<Browser> {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    protocol: 'webDriverBiDi',
    headless: true,
    extraPrefsFirefox: FIREFOX_PREFS,
    timeout: 60_000,
  })
  t.teardown(() => browser.close().catch(() => {}))
  return browser
}

export interface FirefoxPeer {
  page: Page
  /** Every console message of the page (type and text), to check what a user's console would show. */
  console: { type: string; text: string }[]
}

/** A new browser context (another person) with one page at `url`, recording `rtc-*` events like openPeer. */
export async function openFirefoxPeer(t: Test, browser: Browser, url: string, label = 'firefox'): Promise<FirefoxPeer> {
  const context = await browser.createBrowserContext()
  t.teardown(() => context.close().catch(() => {}))
  const page = await context.newPage()
  const messages: FirefoxPeer['console'] = []
  page.on('console', (message) => {
    messages.push({ type: message.type(), text: message.text() })
    if (message.type() === 'error') t.comment(`${label} console.error: ${message.text()}`)
  })
  // As in browser.ts: an uncaught exception in the page fails the test.
  page.on('pageerror', (error) => t.fail(`${label}: uncaught error in the page: ${(error as Error).message ?? error}`))
  await page.evaluateOnNewDocument(recordRtcEvents)
  await page.goto(url)
  return { page, console: messages }
}

/** As waitForRtcEvent, for a puppeteer page. */
export async function waitForFirefoxEvent(page: Page, type: string, query: EventQuery = {}): Promise<RecordedEvent> {
  const handle = await page.waitForFunction(findRtcEvents, { timeout: 60_000, polling: 100 }, { type, query, nth: query.after ?? 0 })
  return (await handle.jsonValue()) as RecordedEvent
}

/** Resolves once the page's `<rtc-call>` plays the peer's video (frames with a size, time moving). */
export async function firefoxSeesVideo(page: Page): Promise<{ width: number; height: number }> {
  const handle = await page.waitForFunction(
    () => {
      const video = (document.querySelector('rtc-call') as any).shadowRoot.querySelector('video.remote') as HTMLVideoElement
      const w = window as unknown as { __t0?: number }
      if (!video.videoWidth || video.paused) return false
      if (w.__t0 === undefined) w.__t0 = video.currentTime
      return video.currentTime > w.__t0 + 0.5 && { width: video.videoWidth, height: video.videoHeight }
    },
    { timeout: 60_000, polling: 100 },
  )
  const size = (await handle.jsonValue()) as { width: number; height: number }
  await page.evaluate(() => delete (window as unknown as { __t0?: number }).__t0)
  return size
}
