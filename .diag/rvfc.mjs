import { chromium } from 'playwright-core'
import { CHROMIUM_ARGS } from '../test/helpers/browser.ts'
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', ignoreDefaultArgs: true, args: [...CHROMIUM_ARGS, '--remote-debugging-pipe', '--no-startup-window', '--user-data-dir=/tmp/diag/prof'] })
const page = await (await browser.newContext()).newPage()
await page.route('http://localhost/x', (r) => r.fulfill({ contentType: 'text/html', body: '<video autoplay muted playsinline></video>' }))
await page.goto('http://localhost/x')
const r = await page.evaluate(async () => {
  const video = document.querySelector('video')
  const stream = await navigator.mediaDevices.getUserMedia({ video: true })
  video.srcObject = stream
  await new Promise((r) => video.addEventListener('playing', r, { once: true }))
  const out = {}
  const wait = (ms) => new Promise((r) => setTimeout(() => r('timeout'), ms))
  // 1. normal
  out.normal = await Promise.race([new Promise((r) => video.requestVideoFrameCallback(() => r('fired'))), wait(3000)])
  // 2. request, then re-assign the same stream
  const p = new Promise((r) => video.requestVideoFrameCallback(() => r('fired')))
  video.srcObject = stream
  out.afterSameReassign = await Promise.race([p, wait(3000)])
  out.pausedAfter = video.paused
  // 3. request after the reassign has settled
  out.later = await Promise.race([new Promise((r) => video.requestVideoFrameCallback(() => r('fired'))), wait(3000)])
  return out
})
console.log(r)
await browser.close()
