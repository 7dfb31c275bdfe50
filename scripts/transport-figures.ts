/**
 * Transport figures (issue 13), measured with real processes and real Chromium, printed as a table:
 *
 * 1. behind nginx that buffers every response: `register()` → resolved (ready), per registration;
 * 2. a black-holed stream (HEARTBEAT_MS=3000): a call placed right after the stall → the callee rings;
 * 3. without a proxy: `register()` → `auto` on SSE (`rtc-transport sse`);
 * 4. over HTTP/2 (self-signed certificate made here): 10 tabs of one browser on one origin register,
 *    and two of them call each other.
 *
 * `npm run transport-figures` (or `-- --only=1,3`, `--runs=5`). Loopback only; everything started here is
 * stopped by PID (nginx) or closed before exit. Figures, not tests: no threshold fails the run.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { buildApp, type BuildOptions } from '../server/app.js'
import { startBlackHole } from '../test/helpers/black-hole.js'
import { buildWeb, launchBrowser, openPage, openPeer, waitForRtcEvent } from '../test/helpers/browser.js'
import { startNginx } from '../test/helpers/middleboxes.js'

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]))
const only = args.get('only')?.split(',').map(Number)
const runs = Number(args.get('runs') ?? 3)
const CAP_MS = 30_000

const teardowns: Array<() => unknown> = []
/** Enough of tap's Test for the helpers: teardown in reverse order at the end, comments on stderr. */
const t = {
  teardown: (fn: () => unknown) => void teardowns.push(fn),
  comment: (...text: unknown[]) => console.error(...text),
} as never

async function server(options: BuildOptions = {}): Promise<string> {
  const app = await buildApp({ logger: false, rateRegisterPerWindow: 100_000, ...options })
  await app.listen({ port: 0, host: '127.0.0.1' })
  teardowns.push(() => app.close())
  const { port } = app.server.address() as { port: number }
  return `${options.tlsCertFile ? 'https' : 'http'}://127.0.0.1:${port}`
}

/** `element.register(name)` in the page; resolves with the ms it took (CAP_MS when it never settled). */
async function timedRegister(page: Page, name: string): Promise<number> {
  return page.locator('rtc-call').evaluate(async (element: any, [name, cap]) => {
    const started = performance.now()
    const outcome = await Promise.race([element.register(name).then(() => 'ok', () => 'error'), new Promise((r) => setTimeout(() => r('cap'), cap))])
    return outcome === 'ok' ? performance.now() - started : cap
  }, [name, CAP_MS] as const)
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const fmt = (ms: number) => (ms >= CAP_MS ? `> ${CAP_MS / 1000} s (never)` : `${(ms / 1000).toFixed(2)} s`)
const rows: string[][] = []

async function bufferingNginx(browser: Browser): Promise<void> {
  const url = await server()
  const nginx = await startNginx(t, { upstreams: [url.replace('http://', '')], buffering: 'all' })
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const { page } = await openPeer(t, browser, `${nginx.url}/`, `buffered-${i}`)
    times.push(await timedRegister(page, `buffered-${i}`))
    await page.context().close()
  }
  rows.push(['behind nginx buffering every response: register → ready', `median ${fmt(median(times))}`, times.map(fmt).join(', ')])
}

async function blackHoledStream(browser: Browser): Promise<void> {
  const url = await server({ heartbeatMs: 3000 })
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const hole = await startBlackHole(t, url)
    const alice = (await openPeer(t, browser, `${url}/`, `alice-${i}`)).page
    const bob = (await openPeer(t, browser, `${hole.url}/`, `bob-${i}`)).page
    await timedRegister(alice, `alice-bh-${i}`)
    await timedRegister(bob, `bob-bh-${i}`)
    // On its final transport (auto may upgrade to SSE a moment after registering).
    await bob.waitForFunction(() => (window as any).__rtc.some((e: any) => e.type === 'rtc-transport' && e.detail.transport === 'sse'), null, { timeout: 10_000 }).catch(() => {})
    hole.blackHole()
    const started = Date.now()
    await alice.locator('rtc-call').evaluate((element: any, name) => element.call(name), `bob-bh-${i}`)
    const rang = await waitForRtcEvent(bob, 'rtc-incoming').then(() => Date.now() - started, () => CAP_MS)
    times.push(Math.min(rang, CAP_MS))
    await alice.context().close()
    await bob.context().close()
    await hole.stop()
  }
  rows.push(['black-holed stream (HEARTBEAT_MS=3000): call placed after the stall → rings', `median ${fmt(median(times))}`, times.map(fmt).join(', ')])
}

async function sseWithoutProxy(browser: Browser): Promise<void> {
  const url = await server()
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const { page } = await openPeer(t, browser, `${url}/`, `direct-${i}`)
    const started = await page.evaluate(() => performance.now())
    void page.locator('rtc-call').evaluate((element: any, name) => element.register(name).catch(() => {}), `direct-${i}`)
    const sse = await waitForRtcEvent(page, 'rtc-transport', { detail: { transport: 'sse' } }).then((e) => e.t - started, () => CAP_MS)
    times.push(sse)
    await page.context().close()
  }
  rows.push(['no proxy: register → auto on SSE', `median ${fmt(median(times))}`, times.map(fmt).join(', ')])
}

async function http2Tabs(browser: Browser): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sigpost-tls-'))
  teardowns.push(() => rmSync(dir, { recursive: true, force: true }))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  const url = await server({ tlsCertFile: join(dir, 'cert.pem'), tlsKeyFile: join(dir, 'key.pem') } as BuildOptions)
  const started = Date.now()
  const first = await openPeer(t, browser, `${url}/`, 'tab-0', { ignoreHTTPSErrors: true })
  const pages: Page[] = [first.page]
  for (let i = 1; i < 10; i++) pages.push(await openPage(t, first.context, `${url}/`, `tab-${i}`))
  const outcomes = await Promise.all(pages.map((page, i) => timedRegister(page, `tab-${i}`)))
  const registered = outcomes.filter((ms) => ms < CAP_MS).length
  const all = Date.now() - started
  let call = 'not tried'
  if (registered === 10) {
    const protocol = await pages[0].evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol)
    await pages[9].locator('rtc-call').evaluate((element: any) => (element.autoAnswer = true))
    const placed = Date.now()
    const connected = await pages[0].locator('rtc-call').evaluate((element: any, cap) => new Promise((resolve) => {
      element.addEventListener('rtc-connected', () => resolve(true), { once: true })
      setTimeout(() => resolve(false), cap)
      element.call('tab-9').catch(() => resolve(false))
    }), CAP_MS)
    call = connected ? `tab-0 ↔ tab-9 connected in ${fmt(Date.now() - placed)} (${protocol})` : 'call did not connect'
  }
  rows.push(['HTTP/2: 10 tabs of one browser register; two call each other', `${registered}/10 registered in ${fmt(all)}`, call])
}

// Interrupted: stop what was started (nginx by PID, Chromium, servers) before leaving.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void (async () => {
      for (const fn of teardowns.reverse()) await Promise.resolve().then(fn).catch(() => {})
      process.exit(130)
    })()
  })
}

buildWeb()
const browser = await launchBrowser(t, { args: ['--ignore-certificate-errors'] })
const figures: Array<[number, (b: Browser) => Promise<void>]> = [[1, bufferingNginx], [2, blackHoledStream], [3, sseWithoutProxy], [4, http2Tabs]]
try {
  for (const [n, figure] of figures) {
    if (only && !only.includes(n)) continue
    console.error(`figure ${n}…`)
    await figure(browser).catch((error) => rows.push([`figure ${n}`, 'failed', String(error?.message ?? error).split('\n')[0]]))
  }
} finally {
  for (const fn of teardowns.reverse()) await Promise.resolve().then(fn).catch(() => {})
}
console.log('| figure | result | runs |\n|---|---|---|')
for (const row of rows) console.log(`| ${row.join(' | ')} |`)
