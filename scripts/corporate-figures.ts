/**
 * Figures for docs/operations.md "Corporate networks": how long a call takes from `call()` to
 * `rtc-connected` when the caller is behind the office proxy (squid, UDP dropped: media through coturn's
 * TLS on 443, tunnelled) against the same call on an open network, for Chromium and Firefox ESR callers
 * (median of 5 calls each, a fresh page per call), and the bytes per second a relayed call costs (the
 * caller's selected pair in getStats(), and coturn's own count of what it relayed to and from the peer).
 * Runs the network of test/proxies/corporate.test.ts (root: Linux namespaces). `npm run corporate-figures`.
 */
import { execFileSync } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import type { Browser as FirefoxBrowser } from 'puppeteer-core'
import { FIREFOX_PROXY_PREFS, TURNS_443, startCorporateNet } from '../test/helpers/corporate-net.js'
import { chromiumPage, element, firefoxPage, pairBytes, placeCall, selectedPair, waitFor, type Driven } from '../test/helpers/driven-page.js'

const CALLS = Number(process.env.CALLS ?? 5)
const HOLD_MS = 10_000
const root = fileURLToPath(new URL('..', import.meta.url))

/** A teardown list, run in reverse: the whole rig, and one per call. */
class Scope {
  private fns: Array<() => unknown> = []
  teardown(fn: () => unknown) {
    this.fns.push(fn)
  }
  async close() {
    for (const fn of this.fns.splice(0).reverse()) await fn()
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2)
}

execFileSync(process.execPath, ['scripts/build-web.mjs'], { cwd: root, stdio: 'ignore' })
execFileSync(process.execPath, ['scripts/build-server.mjs'], { cwd: root, stdio: 'ignore' })
const load = [loadavg()[0]]
const rig = new Scope()
process.once('SIGINT', () => void rig.close().then(() => process.exit(130)))
try {
  const net = await startCorporateNet(rig)
  const server = await net.sigpost(rig, { TURN_URLS: TURNS_443 })
  const calleeBrowser = await net.chromium(rig, 'internet')
  const callers: Array<{ label: string; path: string; open: (scope: Scope) => Promise<Driven> }> = []
  const office = { chromium: await net.chromium(rig, 'office', { proxy: 'switch' }), firefox: await net.firefox(rig, 'office', FIREFOX_PROXY_PREFS) }
  const open = { chromium: await net.chromium(rig, 'internet'), firefox: await net.firefox(rig, 'internet') }
  const page = (browser: Browser | FirefoxBrowser, kind: 'chromium' | 'firefox') => (scope: Scope) =>
    kind === 'chromium' ? chromiumPage(scope, browser as Browser, `${server.url}/`) : firefoxPage(scope, browser as FirefoxBrowser, `${server.url}/`)
  callers.push({ label: 'Chromium', path: 'proxy + TURN/TLS 443', open: page(office.chromium, 'chromium') })
  callers.push({ label: 'Chromium', path: 'open network', open: page(open.chromium, 'chromium') })
  callers.push({ label: 'Firefox ESR', path: 'proxy + TURN/TLS 443', open: page(office.firefox, 'firefox') })
  callers.push({ label: 'Firefox ESR', path: 'open network', open: page(open.firefox, 'firefox') })

  let n = 0
  const rows: string[] = []
  for (const caller of callers) {
    const times: number[] = []
    let relay = ''
    let selected: { type?: string; relayProtocol?: string } = {}
    for (let i = 0; i < CALLS; i++) {
      const scope = new Scope()
      try {
        const alice = await caller.open(scope)
        const bob = await chromiumPage(scope, calleeBrowser, `${server.url}/`)
        const names = { alice: `fig-a-${++n}`, bob: `fig-b-${n}` }
        await bob.evaluate(() => void ((document.querySelector('rtc-call') as any).autoAnswer = true), null)
        await Promise.all([element(alice, 'register', names.alice), element(bob, 'register', names.bob)])
        const placedAt = await placeCall(alice, names.bob)
        const connected = await waitFor(alice, 'rtc-connected')
        await waitFor(bob, 'rtc-connected')
        times.push(Math.round(connected.t - placedAt))
        if (i === 0) selected = (await selectedPair(alice)).local
        if (i === 0 && caller.path !== 'open network') {
          // One call held for 10 s: what the relay carries per second, seen by the caller and by coturn.
          const before = await pairBytes(alice)
          await new Promise((resolve) => setTimeout(resolve, HOLD_MS))
          const after = await pairBytes(alice)
          const seconds = (after.at - before.at) / 1000
          const up = (after.sent - before.sent) / seconds
          const down = (after.received - before.received) / seconds
          const heldMs = after.at - connected.t
          await element(alice, 'hangUp')
          await waitFor(bob, 'rtc-ended')
          // coturn logs what each allocation relayed when it closes (`peer usage: ... rb=, sb=`).
          const user = new RegExp(`username=<\\d+:${names.alice}>, rp=\\d+, rb=(\\d+), sp=\\d+, sb=(\\d+)`, 'g')
          let relayed = 0
          for (const guard = Date.now() + 15_000; Date.now() < guard; await new Promise((resolve) => setTimeout(resolve, 250))) {
            const lines = [...net.coturn.log().matchAll(user)].filter((m) => m.input!.slice(Math.max(0, m.index! - 60), m.index).includes('peer usage'))
            relayed = lines.reduce((sum, m) => sum + Number(m[1]) + Number(m[2]), 0)
            if (relayed > 0) break
          }
          const kB = (bytes: number) => `${(bytes / 1000).toFixed(0)} kB/s`
          relay = `${kB(up)} up, ${kB(down)} down (caller's getStats); coturn relayed ${kB(relayed / (heldMs / 1000))} to and from the callee`
        } else {
          await element(alice, 'hangUp')
          await waitFor(bob, 'rtc-ended')
        }
      } finally {
        await scope.close()
      }
    }
    const pair = [selected.type, selected.relayProtocol].filter(Boolean).join('/')
    rows.push(`| ${caller.label} | ${caller.path} | ${pair} | ${median(times)} ms | ${times.join(', ')} | ${relay || '—'} |`)
  }
  load.push(loadavg()[0])
  console.log(`corporate figures, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} × ${cpus()[0]?.model.trim()}, load average ${load.map((l) => l.toFixed(1)).join(' → ')}`)
  console.log('')
  console.log(`| caller | path | caller's selected candidate | call()→connected, median of ${CALLS} | each call (ms) | relayed, one call held ${HOLD_MS / 1000} s |`)
  console.log('|---|---|---|---|---|---|')
  for (const row of rows) console.log(row)
} finally {
  await rig.close()
}
