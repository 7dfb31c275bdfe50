/**
 * A call through nginx as a reverse proxy, in real Chromium:
 * 1. a plain `proxy_pass` (no Upgrade headers, default buffering): the server's `X-Accel-Buffering: no`
 *    is honoured, the SSE stream flows: `transport="auto"` registers on long-poll, its probe stream proves
 *    the path, and it upgrades to SSE; the call runs over SSE;
 * 2. an nginx that buffers every response (`proxy_ignore_headers X-Accel-Buffering`): the stream never
 *    flushes, `auto` registers on long-poll at once, its probe fails, and the call runs over long-poll.
 */
import http from 'node:http'
import t from 'tap'
import { startServer } from '../helpers/server.js'
import { buildWeb, launchBrowser, openPeer } from '../helpers/browser.js'
import { register as registerApi } from '../helpers/client.js'
import { startNginx, type Nginx } from '../helpers/middleboxes.js'
import { waitForRtcEvent } from '../helpers/browser.js'
import { until } from '../helpers/wait.js'
import { callConnectHangUp, register, transportInUse, transports } from './flow.js'

buildWeb()
const browser = await launchBrowser(t)

/** Opens `/v1/events` through the proxy with a plain HTTP client and records what arrives, and when. */
function openRawStream(proxy: Nginx, token: string) {
  const chunks: string[] = []
  let ended = false
  let onData: (() => void) | undefined
  const request = http.get(`${proxy.url}/v1/events?token=${token}`, (res) => {
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => {
      chunks.push(chunk)
      onData?.()
    })
    res.on('end', () => {
      ended = true
      onData?.()
    })
  })
  request.on('error', () => {})
  return {
    text: () => chunks.join(''),
    ended: () => ended,
    /** Resolves once `predicate()` holds (checked on every chunk and at the end). */
    until: (predicate: () => boolean) =>
      new Promise<void>((resolve) => {
        onData = () => predicate() && resolve()
        onData()
      }),
    close: () => request.destroy(),
  }
}

/** Resolves once the server has `n` attached SSE streams (its own metrics). */
async function sseStreamsAttached(url: string, n: number): Promise<void> {
  const attached = new RegExp(`^sigpost_open_streams\\{transport="sse"\\} ${n}$`, 'm')
  await until(async () => attached.test(await (await fetch(`${url}/metrics`)).text()), `${n} attached SSE streams`, { everyMs: 50 })
}

t.test('nginx with a plain proxy_pass: SSE streams through it and the call runs over SSE', async (t) => {
  const server = await startServer(t, { logger: false })
  const nginx = await startNginx(t, { upstreams: [server.url.replace('http://', '')] })
  t.comment(`nginx.conf:\n${nginx.config}`)

  // The stream flows while it is open: `ready` arrives long before the response ends.
  const probe = await registerApi(nginx.url, 'probe-default')
  const raw = openRawStream(nginx, probe.token)
  await raw.until(() => raw.text().includes('event: ready'))
  t.notOk(raw.ended(), '`ready` came through nginx while the stream is still open')
  raw.close()

  const alice = await openPeer(t, browser, `${nginx.url}/`, 'alice')
  const bob = await openPeer(t, browser, `${nginx.url}/`, 'bob')
  await Promise.all([register(alice.page, 'alice-nginx'), register(bob.page, 'bob-nginx')])
  for (const page of [alice.page, bob.page]) await waitForRtcEvent(page, 'rtc-transport', { detail: { transport: 'sse' } })
  t.same(await transports(alice.page), ['poll', 'sse'], 'alice registered on long-poll, then upgraded to SSE')
  t.same(await transports(bob.page), ['poll', 'sse'], 'bob too')
  t.equal(await transportInUse(alice.page), 'sse')
  t.equal(await transportInUse(bob.page), 'sse')

  await callConnectHangUp(t, alice.page, bob.page, 'bob-nginx', 'nginx default proxy_pass (sse)')
  t.equal(await transportInUse(alice.page), 'sse', 'alice is still on SSE after the call')
  t.equal(await transportInUse(bob.page), 'sse', 'bob too')

  const log = nginx.accessLog()
  // nginx logs a request when it ends: the elements' streams are still open, the probes' have ended.
  t.match(log, /"GET \/v1\/poll\?[^"]*wait=0/, 'the first poll went through nginx')
  t.match(log, /"POST \/v1\/stream-tickets HTTP\/1\.1" 201/, 'the elements got their stream tickets through nginx')
  t.match(log, /"GET \/v1\/events\?ticket=[^"&\s]+&probe=1/, 'then the probe, opened with a ticket')
  const fromPages = log.split('\n').filter((line) => line.includes('HeadlessChrome')).join('\n')
  t.notMatch(fromPages, /[?&]token=/, 'no request of the pages carried the session token in its URL')
  t.match(log, /"POST \/v1\/calls HTTP\/1\.1" 201/, 'the call was placed through nginx')
  t.match(log, /"DELETE \/v1\/calls\/\S+ HTTP\/1\.1" 204/, 'and hung up through it')
})

t.test('nginx that buffers every response: auto registers on long-poll at once, its probe fails, and the call connects', async (t) => {
  const server = await startServer(t, { logger: false })
  const nginx = await startNginx(t, { upstreams: [server.url.replace('http://', '')], buffering: 'all' })
  t.comment(`nginx.conf:\n${nginx.config}`)

  // The hostility is real: nothing of the stream reaches the client until the stream ends.
  const probe = await registerApi(nginx.url, 'probe-buffered')
  const raw = openRawStream(nginx, probe.token)
  await sseStreamsAttached(server.url, 1)
  t.notMatch(raw.text(), /event: ready/, 'the server has attached the stream, but nginx holds its `ready` back')
  await probe.del('/v1/sessions/current') // the server ends the stream: now nginx lets go of it
  await raw.until(() => raw.ended())
  t.match(raw.text(), /event: ready/, '`ready` arrives only once the stream has ended')

  const alice = await openPeer(t, browser, `${nginx.url}/`, 'alice')
  const bob = await openPeer(t, browser, `${nginx.url}/`, 'bob')
  await Promise.all([register(alice.page, 'alice-buffered'), register(bob.page, 'bob-buffered')])
  t.same(await transports(alice.page), ['poll'], 'alice’s element registered on long-poll (rtc-transport poll)')
  t.same(await transports(bob.page), ['poll'], 'bob’s too')
  t.equal(await transportInUse(alice.page), 'poll')
  t.equal(await transportInUse(bob.page), 'poll')

  await callConnectHangUp(t, alice.page, bob.page, 'bob-buffered', 'nginx buffering everything (auto → poll)')
  // nginx logs a request when it ends: the probes, closed by the pages when they failed, end with 499.
  const probes = () => (nginx.accessLog().match(/"GET \/v1\/events\?[^"]*probe=1[^"]*" 499/g) ?? []).length
  await until(() => probes() >= 2, "nginx's log of both failed probes (499)", { everyMs: 50 })
  t.same(await transports(alice.page), ['poll'], 'alice stayed on long-poll after her probe failed')
  t.same(await transports(bob.page), ['poll'], 'bob too')

  const log = nginx.accessLog()
  t.match(log, /"GET \/v1\/poll\?/, 'they long-polled through nginx')
  t.equal(probes(), 2, 'one probe each, given up by the page (499), not retried')
  t.match(log, /"POST \/v1\/stream-tickets HTTP\/1\.1" 201/, 'the probes got their stream tickets through nginx')
  const fromPages = log.split('\n').filter((line) => line.includes('HeadlessChrome')).join('\n')
  t.match(fromPages, /"GET \/v1\/events\?ticket=[^"&\s]+&probe=1/, 'the probes opened with tickets')
  t.notMatch(fromPages, /"GET \/v1\/events\?(?![^"]*probe=1)/, 'no page opened a real stream')
  t.notMatch(fromPages, /[?&]token=/, 'no request of the pages carried the session token in its URL')
  t.match(log, /"POST \/v1\/calls HTTP\/1\.1" 201/, 'the call was placed through nginx')
})
