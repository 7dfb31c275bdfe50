// Many calls between two phones on one page; right after rtc-connected, remoteVideoState's logic on #left,
// with details of what went wrong when it fails.
import t from 'tap'
import { startServer } from '../test/helpers/server.js'
import { buildWeb, launchBrowser, openPeer, waitForRtcEvent } from '../test/helpers/browser.js'

buildWeb()
const { url } = await startServer(t, { logger: false })
const browser = await launchBrowser(t)
const N = Number(process.env.N ?? 20)

function hook() {
  const w = window as any
  w.__ev = []
  const desc = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'srcObject')!
  Object.defineProperty(HTMLMediaElement.prototype, 'srcObject', {
    ...desc,
    set(this: HTMLMediaElement, v: any) {
      if (this.className === 'remote' && ((this.getRootNode() as ShadowRoot).host as Element)?.id === 'left') {
        w.__ev.push([Math.round(performance.now()), 'src=' + (v ? v.getTracks().length : 0)])
        if (!(this as any).__h) {
          ;(this as any).__h = true
          for (const e of ['emptied', 'loadedmetadata', 'play', 'playing', 'pause'])
            this.addEventListener(e, () => w.__ev.push([Math.round(performance.now()), e]))
          const v = this as HTMLVideoElement
          let prev: any = null
          w.__nonmono = []
          const cb = (_n: number, m: any) => {
            const cur = { mt: m.mediaTime, pf: m.presentedFrames, w: v.videoWidth, at: Math.round(performance.now()) }
            if (prev && !(cur.mt > prev.mt)) w.__nonmono.push([prev, cur])
            if (cur.w === 0) w.__nonmono.push(['w0', cur])
            prev = cur
            v.requestVideoFrameCallback(cb)
          }
          v.requestVideoFrameCallback(cb)
        }
      }
      desc.set!.call(this, v)
    },
  })
}

t.test('churn', async (t) => {
  const { page, context } = await openPeer(t, browser, 'about:blank', 'two')
  await context.addInitScript(hook)
  await context.route(`${url}/two-phones.html`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><title>two phones</title><link rel="icon" href="data:,">
        <script type="module" src="/rtc-call.js"></script>
        <rtc-call id="left" name="left-phone"></rtc-call>
        <rtc-call id="right" name="right-phone" auto-answer transport="poll"></rtc-call>`,
    }),
  )
  let fails = 0
  for (let i = 0; i < N; i++) {
  await page.goto(`${url}/two-phones.html`)
  await Promise.all([waitForRtcEvent(page, 'rtc-registered', { target: 'left' }), waitForRtcEvent(page, 'rtc-registered', { target: 'right' })])
    await page.evaluate(() => ((window as any).__ev = []))
    await page.locator('#left').getByLabel('Name to call').fill('right-phone')
    await page.locator('#left').getByRole('button', { name: 'Call', exact: true }).click()
    await Promise.all([
      waitForRtcEvent(page, 'rtc-connected', { target: 'left', after: 0 }),
      waitForRtcEvent(page, 'rtc-connected', { target: 'right', after: 0 }),
    ])
    const r = await page.locator('#left').evaluate(async (element: any) => {
      const video = element.shadowRoot.querySelector('video.remote') as HTMLVideoElement
      const t0 = Math.round(performance.now())
      const frame = () =>
        Promise.race([
          new Promise<any>((resolve) => video.requestVideoFrameCallback((now, meta) => resolve({ ...meta, at: Math.round(performance.now()), w: video.videoWidth, rs: video.readyState }))),
          new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000)),
        ])
      const first = await frame()
      const second = await frame()
      const w = video.videoWidth
      const ok = first !== null && second !== null && second.mediaTime > first.mediaTime && w > 0
      return { ok, t0, first, second, w, ev: (window as any).__ev, nonmono: (window as any).__nonmono }
    })
    if (r.nonmono.length) t.comment('NONMONO', i, JSON.stringify(r.nonmono))
    if (!r.ok) {
      fails++
      t.comment('FAIL', i, JSON.stringify(r))
    }
    await page.locator('#right').getByRole('button', { name: 'Hang up', exact: true }).click()
    await Promise.all([
      waitForRtcEvent(page, 'rtc-ended', { target: 'left', after: 0 }),
      waitForRtcEvent(page, 'rtc-ended', { target: 'right', after: 0 }),
    ])
  }
  t.comment('fails', fails, 'of', N)
})
