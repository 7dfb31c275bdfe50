// After a connected two-phone call, re-assign the remote video's srcObject (what every Lit render does) at
// various points of remoteVideoState's two-frame window and record what the helper would conclude.
import t from 'tap'
import { startServer } from '../test/helpers/server.js'
import { buildWeb, launchBrowser, openPeer, waitForRtcEvent } from '../test/helpers/browser.js'

buildWeb()
const { url } = await startServer(t, { logger: false })
const browser = await launchBrowser(t)

t.test('reloads', async (t) => {
  const { page, context } = await openPeer(t, browser, 'about:blank', 'two')
  await context.route(`${url}/two-phones.html`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><title>two phones</title><link rel="icon" href="data:,">
        <script type="module" src="/rtc-call.js"></script>
        <rtc-call id="left" name="left-phone"></rtc-call>
        <rtc-call id="right" name="right-phone" auto-answer transport="poll"></rtc-call>`,
    }),
  )
  await page.goto(`${url}/two-phones.html`)
  await Promise.all([waitForRtcEvent(page, 'rtc-registered', { target: 'left' }), waitForRtcEvent(page, 'rtc-registered', { target: 'right' })])
  const leftPhone = page.locator('#left')
  await leftPhone.getByLabel('Name to call').fill('right-phone')
  await leftPhone.getByRole('button', { name: 'Call', exact: true }).click()
  await Promise.all([waitForRtcEvent(page, 'rtc-connected', { target: 'left' }), waitForRtcEvent(page, 'rtc-connected', { target: 'right' })])
  for (const mode of (process.env.MODES ?? 'random').split(',')) {
    const r = await page.locator('#left').evaluate(async (element: any, mode: string) => {
      const video = element.shadowRoot.querySelector('video.remote') as HTMLVideoElement
      const out: any[] = []
      for (let i = 0; i < 150; i++) {
        if (mode === 'random') setTimeout(() => element.requestUpdate(), Math.random() * 80)
        const frame = () =>
          Promise.race([
            new Promise<any>((resolve) =>
              video.requestVideoFrameCallback((_n, meta) => {
                if (mode === 'in-first-callback' && (frame as any).first) video.srcObject = video.srcObject
                resolve(meta)
              }),
            ),
            new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000)),
          ])
        ;(frame as any).first = true
        if (mode === 'before-first') element.requestUpdate()
        const first = await frame()
        ;(frame as any).first = false
        if (mode === 'render-after-first') element.requestUpdate()
        if (mode === 'timeout0-after-first') setTimeout(() => element.requestUpdate(), 0)
        if (mode === 'timeout20-after-first') setTimeout(() => element.requestUpdate(), 20)
        const second = await frame()
        if (mode === 'before-read') { element.requestUpdate(); await element.updateComplete }
        const ok = first !== null && second !== null && second.mediaTime > first.mediaTime && video.videoWidth > 0
        out.push(ok ? 'ok' : `FAIL(${first?.mediaTime},${second?.mediaTime},w=${video.videoWidth})`)
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 50))
      }
      return out
    }, mode)
    t.comment(mode, r.filter((x) => x !== 'ok').length, 'fails of', r.length, JSON.stringify(r.filter((x) => x !== 'ok').slice(0, 5)))
  }
})
