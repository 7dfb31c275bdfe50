/**
 * Real Chromium for end-to-end tests: one browser per test file, one context per peer.
 *
 * Chromium runs with exactly the switches below (plus the profile dir and Playwright's pipe), a fresh
 * temporary user-data-dir per launch that is removed on teardown, and never downloads anything.
 * Later tests add switches, e.g. `launchBrowser(t, { args: ['--proxy-server=http://127.0.0.1:3128',
 * '--proxy-bypass-list=<-loopback>'] })` (Chromium never proxies loopback unless told so).
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core'
import type { Test } from 'tap'

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1'

/** Builds web/dist (what the server serves at `/`) so that a test never runs against a stale bundle. */
export function buildWeb(): void {
  execFileSync(process.execPath, ['scripts/build-web.mjs'], { cwd: new URL('../..', import.meta.url), stdio: 'ignore' })
}

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** The switches every test browser gets: fake camera/microphone, auto-granted permission, no noise. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--allow-loopback-in-peer-connection',
]

export interface LaunchOptions {
  /** Extra Chromium switches, e.g. `--proxy-server=...`. */
  args?: string[]
}

/** Launches Chromium for this test file; closed, and its profile removed, on `t.teardown`. */
export async function launchBrowser(t: Test, options: LaunchOptions = {}): Promise<Browser> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'sigpost-chromium-'))
  let browser: Browser
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      // Only our switches: Playwright's defaults would add its own (and its own profile dir).
      ignoreDefaultArgs: true,
      args: [
        ...CHROMIUM_ARGS,
        ...(options.args ?? []),
        `--user-data-dir=${userDataDir}`,
        '--remote-debugging-pipe',
        '--no-startup-window',
      ],
      timeout: 60_000,
    })
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true })
    throw error
  }
  t.teardown(async () => {
    await browser.close().catch(() => {})
    await rm(userDataDir, { recursive: true, force: true })
  })
  return browser
}

/** An `rtc-*` event as recorded in the page (see recordRtcEvents). */
export interface RecordedEvent {
  type: string
  /** The `id` of the `<rtc-call>` that fired it ('' when it has none). */
  target: string
  detail: any
  /** `performance.now()` in the page. */
  t: number
}

/**
 * Records every `rtc-*` event (and every click, for timing) of the page in `window.__rtc`; runs before
 * any page script, on every navigation.
 */
export function recordRtcEvents(): void {
  const types = ['rtc-registered', 'rtc-standby', 'rtc-incoming', 'rtc-connected', 'rtc-ended', 'rtc-transport', 'rtc-error',
    'rtc-peer-media', 'rtc-device', 'rtc-quality', 'rtc-missed', 'rtc-warning', 'click']
  const w = window as unknown as { __rtc: unknown[] }
  w.__rtc = []
  for (const type of types) {
    document.addEventListener(
      type,
      (event) => {
        const target = event.composedPath()[0] as Element
        const host = type === 'click' ? (target.getRootNode() as ShadowRoot).host ?? target : target
        w.__rtc.push({
          type,
          target: (host as Element)?.id ?? '',
          detail: type === 'click' ? { text: (target as HTMLElement).textContent?.trim() } : (event as CustomEvent).detail,
          t: performance.now(),
        })
      },
      // The element's events are recorded where a page's own listener would get them, bubbling up to the
      // document (so a test fails if one stops bubbling or crossing the shadow root); clicks while captured.
      type === 'click',
    )
  }
}

export interface Peer {
  context: BrowserContext
  page: Page
}

/** A new context (own storage, like another person's browser) with one page at `url`; e.g. `{ ignoreHTTPSErrors: true }`. */
export async function openPeer(t: Test, browser: Browser, url: string, label = 'page', options: BrowserContextOptions = {}): Promise<Peer> {
  const context = await browser.newContext(options)
  t.teardown(() => context.close().catch(() => {}))
  await context.addInitScript(recordRtcEvents)
  return { context, page: await openPage(t, context, url, label) }
}

/** Another page in the same context (e.g. the same person opening the page again after a crash). */
export async function openPage(t: Test, context: BrowserContext, url: string, label = 'page'): Promise<Page> {
  const page = await context.newPage()
  // An exception nothing in the page caught is a bug a user could meet: it fails the test (none is benign today).
  page.on('pageerror', (error) => t.fail(`${label}: uncaught error in the page: ${error.message}`, { stack: error.stack }))
  page.on('console', (message) => {
    if (message.type() === 'error') t.comment(`${label} console.error: ${message.text()}`)
  })
  await page.goto(url)
  return page
}

export interface EventQuery {
  /** Only events of the element with this id. */
  target?: string
  /** Skip the first `after` matching events (to wait for the next one). */
  after?: number
  /** Every key given must equal the detail's. */
  detail?: Record<string, unknown>
}

/**
 * Runs in the page: the recorded events of `type` that match `query`, or with `nth` only that one (undefined
 * until it exists, so that waitForFunction can poll it). One function for Playwright and Puppeteer pages.
 */
export function findRtcEvents({ type, query, nth }: { type: string; query: EventQuery; nth?: number }): RecordedEvent[] | RecordedEvent | undefined {
  const matches = ((window as unknown as { __rtc: RecordedEvent[] }).__rtc ?? []).filter(
    (e) =>
      e.type === type &&
      (query.target === undefined || e.target === query.target) &&
      Object.entries(query.detail ?? {}).every(([k, v]) => e.detail?.[k] === v),
  )
  return nth === undefined ? matches : matches[nth]
}

/** All recorded events of `type` so far. */
export async function rtcEvents(page: Page, type: string, query: EventQuery = {}): Promise<RecordedEvent[]> {
  return (await page.evaluate(findRtcEvents, { type, query })) as RecordedEvent[]
}

/** The element's state and transport, and the page's last recorded events: for failure messages. */
export async function describePage(page: Page): Promise<string> {
  const seen = await page
    .evaluate(() => {
      const element = document.querySelector('rtc-call') as any
      const events = ((window as unknown as { __rtc: RecordedEvent[] }).__rtc ?? [])
        .filter((e) => e.type !== 'click')
        .map((e) => `${e.type} ${JSON.stringify(e.detail ?? {})} at ${Math.round(e.t)} ms`)
      return { state: element?.state, transportInUse: element?.transportInUse, events, now: Math.round(performance.now()) }
    })
    .catch(() => ({ state: 'unknown (page gone)', transportInUse: null, events: [] as string[], now: 0 }))
  return `the element is ${seen.state} on ${seen.transportInUse} at ${seen.now} ms; events seen: ${seen.events.slice(-20).join(' | ') || 'none'}`
}

/** Waits until the page has fired an event of `type` (the `after + 1`-th match), and returns it. */
export async function waitForRtcEvent(page: Page, type: string, query: EventQuery = {}): Promise<RecordedEvent> {
  const handle = await page.waitForFunction(
    findRtcEvents,
    { type, query, nth: query.after ?? 0 },
    // Polled on a timer, not on animation frames: a page that renders no frame (a starved compositor,
    // a background tab) still records its events.
    { timeout: 60_000, polling: 200 },
  ).catch(async (error: Error) => {
    // Say what the page did see, so that a time-out in CI tells why without a rerun.
    throw new Error(`no ${type} event ${JSON.stringify(query)}: ${error.message}; ${await describePage(page)}`)
  })
  return (await handle.jsonValue()) as RecordedEvent
}

/** How long remoteVideoState waits for moving video before it reports what it saw (as waitForRtcEvent). */
export const VIDEO_GUARD_MS = 60_000

/**
 * What the user sees of the element's remote video: frames being presented (`requestVideoFrameCallback`)
 * whose media time advances, their size, and live tracks in `remoteStream`.
 *
 * It waits for those frames however slow the machine is: a presented frame is the event, and a frame
 * presented again with the same media time (nothing moved) just means waiting for the next one. The size
 * is the presented frame's, not `videoWidth` read at some later moment. Only a video that does not move
 * for VIDEO_GUARD_MS ends the wait, so that a broken call fails its assertion (with `paused`,
 * `readyState` and the frames seen, to say why) instead of hanging the test until tap's time-out.
 */
export async function remoteVideoState(page: Page, selector = 'rtc-call') {
  return page.locator(selector).evaluate(async (element: any, guardMs: number) => {
    const video = element.shadowRoot.querySelector('video.remote') as HTMLVideoElement
    const seen: number[] = []
    const nextFrame = () =>
      new Promise<VideoFrameCallbackMetadata>((resolve) =>
        video.requestVideoFrameCallback((_now, meta) => {
          seen.push(meta.mediaTime)
          resolve(meta)
        }),
      )
    let gaveUp = false
    const moving = (async () => {
      const first = await nextFrame()
      let frame = await nextFrame()
      while (!(frame.mediaTime > first.mediaTime) && !gaveUp) frame = await nextFrame()
      return frame
    })()
    let guard: ReturnType<typeof setTimeout> | undefined
    const frame = await Promise.race([moving, new Promise<null>((resolve) => (guard = setTimeout(() => resolve(null), guardMs)))])
    clearTimeout(guard)
    gaveUp = true
    const stream = element.remoteStream as MediaStream | null
    return {
      framesDecoded: frame !== null,
      width: frame?.width ?? 0,
      height: frame?.height ?? 0,
      showsRemoteStream: stream !== null && video.srcObject === stream,
      liveVideoTracks: stream?.getVideoTracks().filter((track) => track.readyState === 'live').length ?? 0,
      /** Whether the remote sound is muted (autoplay without a user gesture plays muted). */
      muted: video.muted,
      paused: video.paused,
      readyState: video.readyState,
      /** Media times of the frames presented while waiting (the first few). */
      mediaTimes: seen.slice(0, 5),
    }
  }, VIDEO_GUARD_MS)
}

/** The `readyState` of every track of the element's local and remote streams, captured now. */
export async function captureTracks(page: Page, selector = 'rtc-call') {
  return page.locator(selector).evaluate((element: any) => {
    const w = window as unknown as { __tracks?: MediaStreamTrack[] }
    w.__tracks = [...(element.localStream?.getTracks() ?? []), ...(element.remoteStream?.getTracks() ?? [])]
    return w.__tracks.length
  })
}

/** States of the tracks captured by captureTracks (a hung-up call leaves them all `ended`). */
export async function capturedTrackStates(page: Page): Promise<string[]> {
  return page.evaluate(() => ((window as unknown as { __tracks?: MediaStreamTrack[] }).__tracks ?? []).map((track) => track.readyState))
}

/** The element's read-only `state`. */
export async function elementState(page: Page, selector = 'rtc-call'): Promise<string> {
  return page.locator(selector).evaluate((element: any) => element.state)
}

// ---- the demo page ------------------------------------------------------------------------------------

export type Transport = 'auto' | 'sse' | 'poll'
const TRANSPORT_LABEL = { auto: 'auto', sse: 'SSE', poll: 'long-poll' } as const

/** On the demo page: picks the transport, registers `name`, resolves with the `rtc-registered` event. */
export async function register(page: Page, name: string, transport: Transport = 'auto') {
  await page.getByLabel(TRANSPORT_LABEL[transport], { exact: true }).check()
  await page.getByLabel('Your name').fill(name)
  await page.getByRole('button', { name: 'Register', exact: true }).click()
  return waitForRtcEvent(page, 'rtc-registered')
}

/**
 * Two demo pages register `aliceName` and `bobName`, alice calls with the Call button and bob accepts with
 * Accept; resolves once both peer connections are connected, with the call's id.
 */
export async function connectCall(alice: Page, bob: Page, aliceName: string, bobName: string, transport: Transport = 'auto'): Promise<string> {
  await Promise.all([register(alice, aliceName, transport), register(bob, bobName, transport)])
  const before = (await rtcEvents(bob, 'rtc-incoming')).length
  await dial(alice, bobName)
  const incoming = await waitForRtcEvent(bob, 'rtc-incoming', { after: before }).catch(async (error: Error) => {
    throw new Error(`${error.message}; the caller: ${await describePage(alice)}`)
  })
  await bob.getByRole('button', { name: 'Accept', exact: true }).click()
  await Promise.all([
    waitForRtcEvent(alice, 'rtc-connected', { detail: { callId: incoming.detail.callId } }),
    waitForRtcEvent(bob, 'rtc-connected', { detail: { callId: incoming.detail.callId } }),
  ])
  return incoming.detail.callId
}

/** On the demo page: calls `name` with the Call button. */
export async function dial(page: Page, name: string) {
  await page.getByLabel('Name to call').fill(name)
  await page.getByRole('button', { name: 'Call', exact: true }).click()
}
