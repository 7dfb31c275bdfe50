/**
 * Driving `<rtc-call>` on a page of either browser driver (Playwright's Chromium, Puppeteer's Firefox) through
 * the element's API, as an app would: register, call(), hangUp(); waiting for recorded `rtc-*` events in
 * the page; and what getStats() says about the page's latest peer connection (the selected candidate
 * pair, decoded frames, relayed bytes). Used by test/proxies/corporate.test.ts and scripts/corporate-figures.ts.
 */
import type { Browser } from 'playwright-core'
import type { Browser as FirefoxBrowser } from 'puppeteer-core'
import { recordRtcEvents, type RecordedEvent } from './browser.js'

interface Teardown {
  teardown(fn: () => unknown): void
  comment?(message: string): void
}

/** A page of either driver: Playwright's and Puppeteer's `evaluate(fn, arg)` agree. */
/**
 * tsx (scripts/) compiles with esbuild's keepNames, which wraps named functions in a `__name(...)` helper;
 * functions sent into a page would then call a helper the page lacks. The page gets a harmless one.
 */
const KEEP_NAMES_SHIM = 'globalThis.__name = globalThis.__name || ((f) => f)'

export interface Driven {
  evaluate<A, R>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>
}

export interface IceLog {
  candidates: string[]
  errors: Array<{ errorCode: number; url: string; errorText: string }>
}

/** In the page, before its scripts: keeps every RTCPeerConnection (window.__pcs), its candidates and and ICE errors. */
export function recordPeerConnections(): void {
  const Native = window.RTCPeerConnection
  const w = window as unknown as { __pcs: RTCPeerConnection[]; __ice: IceLog }
  w.__pcs = []
  w.__ice = { candidates: [], errors: [] }
  window.RTCPeerConnection = class extends Native {
    constructor(configuration?: RTCConfiguration) {
      super(configuration)
      w.__pcs.push(this)
      this.addEventListener('icecandidate', (event) => {
        if (event.candidate?.candidate) w.__ice.candidates.push(event.candidate.candidate)
      })
      this.addEventListener('icecandidateerror', (event) => {
        const e = event as RTCPeerConnectionIceErrorEvent
        w.__ice.errors.push({ errorCode: e.errorCode, url: e.url, errorText: e.errorText })
      })
    }
  } as typeof RTCPeerConnection
}

/** A Chromium page at `url` recording events and peer connections. */
export async function chromiumPage(t: Teardown, browser: Browser, url: string): Promise<Driven> {
  const context = await browser.newContext()
  t.teardown(() => context.close().catch(() => {}))
  await context.addInitScript(KEEP_NAMES_SHIM)
  await context.addInitScript(recordRtcEvents)
  await context.addInitScript(recordPeerConnections)
  const page = await context.newPage()
  page.on('pageerror', (error) => t.comment?.(`pageerror: ${error.message}`))
  await page.goto(url)
  return page as unknown as Driven
}

export async function firefoxPage(t: Teardown, browser: FirefoxBrowser, url: string): Promise<Driven> {
  const context = await browser.createBrowserContext()
  t.teardown(() => context.close().catch(() => {}))
  const page = await context.newPage()
  await page.evaluateOnNewDocument(KEEP_NAMES_SHIM)
  await page.evaluateOnNewDocument(recordRtcEvents)
  await page.evaluateOnNewDocument(recordPeerConnections)
  await page.goto(url)
  return page as unknown as Driven
}

export const element = (page: Driven, method: 'register' | 'hangUp', arg?: string) =>
  page.evaluate(({ method, arg }) => (document.querySelector('rtc-call') as any)[method](arg), { method, arg })

/** Waits in the page for the first recorded `type` event whose detail has `detail`'s values; says what was seen if none comes. */
export function waitFor(page: Driven, type: string, detail: Record<string, unknown> = {}, timeoutMs = 90_000): Promise<RecordedEvent> {
  return page.evaluate(({ type, detail, timeoutMs }) => new Promise<RecordedEvent>((resolve, reject) => {
    const guard = Date.now() + timeoutMs
    const tick = () => {
      const events = (window as unknown as { __rtc: RecordedEvent[] }).__rtc ?? []
      const found = events.find((e) => e.type === type && Object.entries(detail).every(([k, v]) => e.detail?.[k] === v))
      if (found) return resolve(found)
      if (Date.now() > guard) {
        const seen = events.filter((e) => e.type !== 'click').map((e) => `${e.type} ${JSON.stringify(e.detail)}`).slice(-12)
        return reject(new Error(`no ${type} ${JSON.stringify(detail)} within ${timeoutMs} ms; seen: ${seen.join(' | ')}`))
      }
      setTimeout(tick, 100)
    }
    tick()
  }), { type, detail, timeoutMs })
}

/** Places the call from the page (`call()`, as an app would); resolves with when it was placed (page time). */
export const placeCall = (page: Driven, peer: string) =>
  page.evaluate((peer) => {
    const at = performance.now()
    ;(document.querySelector('rtc-call') as any).call(peer).catch((error: Error) => ((window as any).__callError = String(error)))
    return at
  }, peer)

/** The selected candidate pair of the page's latest peer connection (Chromium: the transport's; Firefox: `selected`). */
export const selectedPair = (page: Driven) =>
  page.evaluate(async () => {
    const pc = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.at(-1)!
    const guard = Date.now() + 30_000
    let stats: any[] = []
    let pair: any
    for (;;) {
      stats = [...(await pc.getStats()).values()]
      const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId)
      pair = transport
        ? stats.find((s) => s.id === transport.selectedCandidatePairId)
        : stats.find((s) => s.type === 'candidate-pair' && s.selected)
      if (pair?.state === 'succeeded' || Date.now() > guard) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const local = stats.find((s) => s.id === pair?.localCandidateId)
    const remote = stats.find((s) => s.id === pair?.remoteCandidateId)
    return {
      state: pair?.state as string | undefined,
      local: { type: local?.candidateType, relayProtocol: local?.relayProtocol, url: local?.url },
      remote: { type: remote?.candidateType },
    }
  }, null)

/** Video frames decoded by the page's latest peer connection: a first count above 0, then a higher one. */
export const framesRising = (page: Driven) =>
  page.evaluate(async () => {
    const pc = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.at(-1)!
    const decoded = async () =>
      [...(await pc.getStats()).values()].filter((s: any) => s.type === 'inbound-rtp' && s.kind === 'video').reduce((n: number, s: any) => n + (s.framesDecoded ?? 0), 0)
    const guard = Date.now() + 30_000
    let first = 0
    while ((first = await decoded()) === 0 && Date.now() < guard) await new Promise((resolve) => setTimeout(resolve, 100))
    let later = first
    while ((later = await decoded()) <= first && Date.now() < guard) await new Promise((resolve) => setTimeout(resolve, 100))
    return { first, later }
  }, null)

export const ice = (page: Driven) => page.evaluate(() => (window as unknown as { __ice: IceLog }).__ice, null)

/** Bytes sent and received so far over the selected candidate pair of the page's latest peer connection, and its local candidate type. */
export const pairBytes = (page: Driven) =>
  page.evaluate(async () => {
    const pc = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.at(-1)!
    const stats = [...(await pc.getStats()).values()] as any[]
    const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId)
    const pair = transport ? stats.find((s) => s.id === transport.selectedCandidatePairId) : stats.find((s) => s.type === 'candidate-pair' && s.selected)
    const local = stats.find((s) => s.id === pair?.localCandidateId)
    return { sent: (pair?.bytesSent ?? 0) as number, received: (pair?.bytesReceived ?? 0) as number, localType: local?.candidateType as string | undefined, at: performance.now() }
  }, null)
