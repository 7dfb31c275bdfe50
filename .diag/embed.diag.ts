// Diagnostic copy of the first embed test: records what each remote <video> does, with page timestamps.
import t from 'tap'
import { startServer } from '../test/helpers/server.js'
import { buildWeb, launchBrowser, openPeer, waitForRtcEvent } from '../test/helpers/browser.js'

buildWeb()
const { url } = await startServer(t, { logger: false })
const browser = await launchBrowser(t)

function instrument() {
  const w = window as any
  w.__log = []
  const log = (...a: any[]) => w.__log.push([Math.round(performance.now()), ...a])
  const play = HTMLMediaElement.prototype.play
  HTMLMediaElement.prototype.play = function (this: HTMLMediaElement) {
    const host = ((this.getRootNode() as ShadowRoot).host as Element)?.id + '.' + this.className
    log(host, 'play()', 'muted=' + this.muted, 'paused=' + this.paused, 'rs=' + this.readyState, 'activation=' + navigator.userActivation?.hasBeenActive)
    const p = play.call(this)
    p.then(() => log(host, 'play resolved'), (e: any) => log(host, 'play rejected', e.name, e.message))
    return p
  }
  const desc = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'srcObject')!
  Object.defineProperty(HTMLMediaElement.prototype, 'srcObject', {
    ...desc,
    set(this: HTMLMediaElement, v: any) {
      const host = ((this.getRootNode() as ShadowRoot).host as Element)?.id + '.' + this.className
      if (this.className === 'remote') {
        log(host, 'srcObject=', v ? v.getTracks().map((t: any) => t.kind).join('+') : null)
        if (!(this as any).__hooked) {
          ;(this as any).__hooked = true
          for (const ev of ['loadstart', 'loadedmetadata', 'loadeddata', 'canplay', 'playing', 'pause', 'play', 'waiting', 'stalled', 'abort', 'emptied', 'resize', 'suspend', 'ended', 'error']) {
            this.addEventListener(ev, () => log(host, 'ev:' + ev, 'paused=' + this.paused, 'rs=' + this.readyState, this.videoWidth + 'x' + this.videoHeight))
          }
          const self = this as HTMLVideoElement
          let n = 0
          const cb = (_now: number, m: any) => {
            if (n++ < 400) log(host, 'rVFC', 'mediaTime=' + m.mediaTime, 'presented=' + m.presentedFrames, 'rect=' + JSON.stringify(self.getBoundingClientRect().toJSON()))
            self.requestVideoFrameCallback(cb)
          }
          self.requestVideoFrameCallback(cb)
        }
      }
      desc.set!.call(this, v)
    },
  })
}

t.test('two phones (diag)', async (t) => {
  const { page, context } = await openPeer(t, browser, 'about:blank', 'two')
  await context.addInitScript(instrument)
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
  const connectedAt = await page.evaluate(() => Math.round(performance.now()))
  if (process.env.FORCE) await page.evaluate(() => ((window as any).__forceRender = true))
  if (process.env.DELAY) await page.waitForTimeout(Number(process.env.DELAY))
  for (const id of ['left', 'right']) {
    const r = await page.locator('#' + id).evaluate(async (element: any) => {
      const video = element.shadowRoot.querySelector('video.remote') as HTMLVideoElement
      const t0 = performance.now()
      const frame = () =>
        Promise.race([
          new Promise<any>((resolve) => video.requestVideoFrameCallback((_now, meta) => resolve(meta))),
          new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000)),
        ])
      const first = await frame()
      const t1 = performance.now()
      if ((window as any).__forceRender) element.requestUpdate()
      const second = await frame()
      const t2 = performance.now()
      return {
        first: first && first.mediaTime, second: second && second.mediaTime, dt1: Math.round(t1 - t0), dt2: Math.round(t2 - t1),
        paused: video.paused, muted: video.muted, rs: video.readyState, w: video.videoWidth,
        speakerButton: !!element.shadowRoot.querySelector('[part~="speaker-button"]'),
        inView: video.getBoundingClientRect().top < innerHeight, vis: document.visibilityState,
      }
    })
    t.comment(id, JSON.stringify(r))
    t.ok(r.first !== null && r.second !== null && r.second > r.first && r.w > 0, id + ' live video')
  }
  const log = await page.evaluate(() => (window as any).__log)
  t.comment('connectedAt', connectedAt)
  const bad = !(await Promise.resolve(true))
  t.comment('after-connected', JSON.stringify(log.filter((l: any) => l[0] >= connectedAt - 50)))
  if (process.env.FULL) for (const l of log) t.comment(JSON.stringify(l))
})
