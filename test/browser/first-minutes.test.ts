/**
 * The first five minutes (issue 26), in real Chromium: people read sentences in their language (never a
 * code, a schema's pattern, a route or a DOMException name), a camera and microphone not allowed are
 * named and the call goes on receive-only (the caller never reads "declined"), a relative
 * `server` works and a wrong one is said at once, the redial cool-down counts down and clears, the calling
 * state shows who is called, and a 64-character name never breaks a 320 px layout.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { chromium, type Page } from 'playwright-core'
import { startServer } from '../helpers/server.js'
import { buildWeb, CHROMIUM_ARGS, CHROMIUM_PATH, dial, launchBrowser, openPeer, register, remoteVideoState, rtcEvents, waitForRtcEvent } from '../helpers/browser.js'

buildWeb()
// A short redial cool-down, so that the notice counts to 0 within the test (the default is 15 s).
const { url } = await startServer(t, { logger: false, redialCooldownMs: 3000 })
const browser = await launchBrowser(t)

const el = (page: Page) => page.locator('rtc-call')
const partText = (page: Page, part: string) =>
  el(page).evaluate((e: any, part: string) => e.shadowRoot.querySelector(`[part~="${part}"]`)?.textContent?.replace(/\s+/g, ' ').trim() ?? null, part)
/** Waits until the element's `part` reads something matching `pattern` (polled in the page: it re-renders on its own). */
const waitForPart = (page: Page, part: string, pattern: RegExp) =>
  page
    .waitForFunction(
      ({ part, source }) => {
        const text = (document.querySelector('rtc-call') as any).shadowRoot.querySelector(`[part~="${part}"]`)?.textContent?.replace(/\s+/g, ' ').trim() ?? ''
        return new RegExp(source).test(text) && text
      },
      { part, source: pattern.source },
      { timeout: 30_000, polling: 50 },
    )
    .then((h) => h.jsonValue() as Promise<string>)
/** Machine text that must never reach a person. */
const MACHINE = /[A-Z][a-z]+Error|Route |POST|GET|\^\[|must match|pattern|_[a-z]+_|\b[a-z]+_[a-z]+\b/

t.test('lang="de": errors are German sentences, with no code, regex or route; the name rule is shown first', async (t) => {
  const { page } = await openPeer(t, browser, `${url}/`, 'de')
  await page.evaluate(() => ((document.querySelector('rtc-call') as any).lang = 'de'))
  t.match(await partText(page, 'hint'), /^Buchstaben A–Z, Ziffern und \. _ - \(keine Leerzeichen\), bis 64 Zeichen/, 'the name rule under the field, before anything is sent')
  const sent: string[] = []
  page.on('request', (r) => r.url().includes('/v1/') && sent.push(r.url()))
  await page.getByLabel('Dein Name').fill('Alice Smith')
  await page.getByRole('button', { name: 'Anmelden', exact: true }).click()
  const error = await waitForPart(page, 'error', /Dieser Name geht nicht/)
  t.notMatch(error, MACHINE, `a sentence: ${error}`)
  t.same(sent, [], 'caught in the browser: nothing was sent')
  const event = await waitForRtcEvent(page, 'rtc-error')
  t.equal(event.detail.code, 'invalid_name', 'the code and the detail are in the event, for developers')

  await el(page).evaluate((e: any) => e.register('de-user'))
  await el(page).evaluate((e: any) => e.call('niemand').catch(() => {}))
  const missing = await waitForPart(page, 'error', /niemand ist gerade nicht erreichbar/)
  t.notMatch(missing, MACHINE, `peer_not_found: ${missing}`)
  await el(page).evaluate((e: any) => e.call('de-user').catch(() => {}))
  t.match(await waitForPart(page, 'error', /selbst/), /^Du kannst dich nicht selbst anrufen/, 'calling yourself: said, not "to must name another session"')
  t.notMatch(await partText(page, 'status'), /sse|poll/, 'the status line names no transport')
  t.match(await el(page).evaluate((e: any) => e.shadowRoot.querySelector('[part~="status"]').dataset.transport), /^(sse|poll)$/, 'it is in data-transport')
})

t.test('server: relative to the page works; a wrong path or a missing scheme is said at once', async (t) => {
  // A page of the embedding site, on sigpost's origin (fulfilled by the browser), with server="/": relative.
  const { page, context } = await openPeer(t, browser, 'about:blank', 'relative')
  await context.route(`${url}/app/page.html`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><title>app</title><link rel="icon" href="data:,">
        <script type="module" src="/rtc-call.js"></script><rtc-call server="/"></rtc-call>`,
    }),
  )
  await page.goto(`${url}/app/page.html`)
  await page.evaluate(() => customElements.whenDefined('rtc-call'))
  t.equal(await el(page).evaluate((e: any) => e.register('rel-user').then(() => e.state)), 'registered', 'server="/" is resolved against the page')

  // A path where no sigpost is mounted (the plugin's prefix wrong): the 404 is said at once, in a sentence.
  await el(page).evaluate((e: any) => e.unregister())
  await el(page).evaluate((e: any) => (e.server = '/signal'))
  const wrong = await el(page).evaluate((e: any) => e.register('rel-user').then(() => null, (error: any) => error.code))
  t.equal(wrong, 'wrong_server')
  const text = await partText(page, 'error')
  t.match(text, /^No call server answers at \/signal\. Check the address and its path/, `said: ${text}`)
  t.notMatch(text, /Route|endpoint|HTTP\/1\.1|six/, 'not the server’s 404 text, and not blamed on HTTP/1.1')
  await el(page).evaluate((e: any) => (e.server = 'localhost:3000'))
  t.match(await waitForPart(page, 'error', /not valid/), /address “localhost:3000” is not valid: it needs https:\/\//, 'a missing scheme: said as soon as it is set')
  t.equal((await rtcEvents(page, 'rtc-error')).at(-1)?.detail.code, 'invalid_server')
})

t.test('an intermediary’s HTML 403 is proxy_error, said as a sentence', async (t) => {
  const { page } = await openPeer(t, browser, `${url}/`, 'proxied')
  await page.route('**/v1/sessions', (route) =>
    route.fulfill({ status: 403, contentType: 'text/html', headers: { via: '1.1 gate.corp (squid/5.7)' }, body: '<html><body><h1>Access denied</h1></body></html>' }),
  )
  await page.getByLabel('Your name').fill('behind-proxy')
  await page.getByRole('button', { name: 'Register', exact: true }).click()
  const text = await waitForPart(page, 'error', /HTTP 403/)
  t.equal(text, 'Something other than the call server answered (HTTP 403, from 1.1 gate.corp (squid/5.7)): a proxy or a network sign-in page is in the way.')
  t.equal((await waitForRtcEvent(page, 'rtc-error')).detail.code, 'proxy_error')
})

t.test('the calling state shows who is called; the cool-down counts down and clears; one notice at a time', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await Promise.all([register(alice.page, 'alice-cd'), register(bob.page, 'bob-cd')])
  await alice.page.locator('rtc-call [part~="preview-video"]').waitFor()
  t.pass('registered: a self-preview before the first call')
  await dial(alice.page, 'bob-cd')
  t.equal(await waitForPart(alice.page, 'calling', /Calling/), 'B bob-cd Calling…', 'calling: the callee’s initial, name and “Calling…”')
  t.ok(await alice.page.getByRole('button', { name: 'Cancel', exact: true }).isVisible(), 'with Cancel')
  await waitForRtcEvent(bob.page, 'rtc-incoming')
  await bob.page.getByRole('button', { name: 'Reject', exact: true }).click()
  await waitForRtcEvent(alice.page, 'rtc-ended', { detail: { reason: 'rejected' } })
  t.match(await partText(alice.page, 'ended'), /^Call with bob-cd ended: declined/)

  await dial(alice.page, 'bob-cd')
  const first = await waitForPart(alice.page, 'error', /again in \d s/)
  t.match(first, /^bob-cd did not take your last call\. You can call again in [1-3] s\.$/)
  t.equal(await partText(alice.page, 'ended'), null, 'one notice at a time: the cool-down replaced “ended”')
  const seconds = Number(/in (\d) s/.exec(first)![1])
  if (seconds > 1) t.match(await waitForPart(alice.page, 'error', new RegExp(`again in ${seconds - 1} s`)), /again in/, 'it counts down')
  await alice.page.waitForFunction(() => !(document.querySelector('rtc-call') as any).shadowRoot.querySelector('[part~="error"]'), undefined, { timeout: 30_000, polling: 100 })
  t.pass('and clears at 0')
  const limited = (await rtcEvents(alice.page, 'rtc-error')).at(-1)!.detail
  t.match(limited, { code: 'rate_limited', retryAfter: Number })
  await dial(alice.page, 'bob-cd')
  await waitForRtcEvent(bob.page, 'rtc-incoming', { after: 1 })
  t.pass('after the cool-down the call goes through')
  await el(alice.page).evaluate((e: any) => e.hangUp())
  await waitForRtcEvent(bob.page, 'rtc-missed')
  t.equal(await partText(bob.page, 'ended'), null, 'a missed call is listed, not also “ended”')
})

t.test('camera and microphone not allowed: named on Accept, the caller never reads “declined”, receive-only connects', async (t) => {
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  // Bob's browser has no fake permission prompt: headless Chromium answers getUserMedia's prompt with
  // NotAllowedError, as a person who dismisses it.
  const userDataDir = await mkdtemp(join(tmpdir(), 'sigpost-chromium-'))
  const asking = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    ignoreDefaultArgs: true,
    args: [...CHROMIUM_ARGS.filter((arg) => arg !== '--use-fake-ui-for-media-stream'), `--user-data-dir=${userDataDir}`, '--remote-debugging-pipe', '--no-startup-window'],
  })
  t.teardown(async () => {
    await asking.close().catch(() => {})
    await rm(userDataDir, { recursive: true, force: true })
  })
  const bob = await openPeer(t, asking, `${url}/`, 'bob')
  await Promise.all([register(alice.page, 'alice-rx'), register(bob.page, 'bob-rx')])
  await dial(alice.page, 'bob-rx')
  await waitForRtcEvent(bob.page, 'rtc-incoming')
  await bob.page.getByRole('button', { name: 'Accept', exact: true }).click()
  const text = await waitForPart(bob.page, 'error', /allow/)
  const error = (await rtcEvents(bob.page, 'rtc-error')).at(-1)!.detail
  // Dismissed prompts: `denied` while the permission still says `prompt`; once Chromium has embargoed the
  // site after repeated dismissals (the self-preview asked too), it says `denied` and only the site settings help.
  t.match(error, { code: 'media_denied', devices: ['microphone', 'camera'], why: /^(denied|blocked)$/ })
  const sentence = {
    denied: 'You did not allow this site to use your camera and microphone.',
    blocked: 'Access to your camera and microphone is blocked for this site in the browser’s settings: allow it with the icon next to the address, then try again.',
  }[error.why as 'denied' | 'blocked']
  t.equal(text.split('Continue')[0].trim(), sentence, `which devices, and why (${error.why})`)
  t.notMatch(text, /NotAllowedError|Permission/, 'no DOMException name')
  t.equal(await el(bob.page).evaluate((e: any) => e.state), 'ringing', 'the call still rings: nothing was sent to the caller')
  t.same(await rtcEvents(alice.page, 'rtc-ended'), [], 'alice reads nothing like “declined”')

  await bob.page.getByRole('button', { name: 'Continue without camera and microphone', exact: true }).click()
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-connected'), waitForRtcEvent(bob.page, 'rtc-connected')])
  t.pass('receive-only: the call connects')
  t.ok((await remoteVideoState(bob.page)).framesDecoded, 'bob sees alice’s video')
  t.same(await el(bob.page).evaluate((e: any) => e.localStream), null, 'bob sends nothing')
  t.equal(await el(alice.page).evaluate((e: any) => e.peerVideo), false, 'alice sees that bob sends no video')
  await el(alice.page).evaluate((e: any) => e.hangUp())
  const [endedA] = await Promise.all([waitForRtcEvent(alice.page, 'rtc-ended'), waitForRtcEvent(bob.page, 'rtc-ended')])
  t.equal(endedA.detail.reason, 'hangup')
})

t.test('a 64-character name never breaks a 320 px layout (page and element)', async (t) => {
  const long = `a${'b'.repeat(62)}c`
  const peer = `p${'q'.repeat(62)}r`
  const alice = await openPeer(t, browser, `${url}/`, 'alice')
  const bob = await openPeer(t, browser, `${url}/`, 'bob')
  await alice.page.setViewportSize({ width: 320, height: 640 })
  await bob.page.setViewportSize({ width: 320, height: 640 })
  const overflow = (page: Page) =>
    el(page).evaluate((e: any) => {
      const root = document.documentElement
      const inner = [...e.shadowRoot.querySelectorAll('*')].filter((n: Element) => n.scrollWidth > n.clientWidth + 1 && getComputedStyle(n).overflowX === 'visible' && n.clientWidth > 0)
      return { page: root.scrollWidth - root.clientWidth, element: e.scrollWidth - e.clientWidth, wide: inner.map((n: Element) => n.getAttribute('part') ?? n.className).slice(0, 5) }
    })
  await Promise.all([register(alice.page, long), register(bob.page, peer)])
  t.same(await overflow(alice.page), { page: 0, element: 0, wide: [] }, 'registered as a 64-character name')
  await dial(alice.page, peer)
  await waitForRtcEvent(bob.page, 'rtc-incoming')
  t.same(await overflow(alice.page), { page: 0, element: 0, wide: [] }, 'calling a 64-character name')
  t.same(await overflow(bob.page), { page: 0, element: 0, wide: [] }, 'rung by a 64-character name')
  t.equal(await el(bob.page).evaluate((e: any) => e.shadowRoot.querySelector('.incoming-title .name').title), long, 'the whole name is its title')
  await el(alice.page).evaluate((e: any) => e.hangUp())
  await waitForRtcEvent(bob.page, 'rtc-missed')
  t.same(await overflow(bob.page), { page: 0, element: 0, wide: [] }, 'the missed call from a 64-character name')
})
