/**
 * A call through squid as the browser's forward proxy, with Debian's default squid.conf (only port, pid,
 * log and coredump paths changed). Chromium is told to use it for everything, loopback included; squid's
 * access log shows that sigpost was reached through it. Control: a WebSocket opened from the same page
 * through the same squid does not get through (Chromium tunnels ws:// through a proxy with CONNECT, and
 * Debian's squid allows CONNECT only to port 443), so the hostility is real. A squid with a company's
 * rules on top that refuses registering: the element says `proxy_error`, not `http_403`.
 */
import t from 'tap'
import { WebSocketServer, WebSocket } from 'ws'
import { startServer } from '../helpers/server.js'
import { buildWeb, launchBrowser, openPeer, waitForRtcEvent } from '../helpers/browser.js'
import { startSquid } from '../helpers/middleboxes.js'
import { until } from '../helpers/wait.js'
import { callConnectHangUp, register, transportInUse, transports } from './flow.js'

buildWeb()
const server = await startServer(t, { logger: false })
const squid = await startSquid(t)
// `<-loopback>` removes Chromium's implicit bypass of localhost/127.0.0.1, so loopback goes through squid too.
const browser = await launchBrowser(t, { args: [`--proxy-server=${squid.url}`, '--proxy-bypass-list=<-loopback>'] })

/** A tiny WebSocket echo server on loopback; counts the connections it gets. */
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
await new Promise((resolve) => wss.once('listening', resolve))
let wsConnections = 0
wss.on('connection', (socket) => {
  wsConnections++
  socket.on('message', (data) => socket.send(data))
})
t.teardown(() => new Promise<void>((resolve) => wss.close(() => resolve())))
const wsUrl = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`

/** Resolves once squid's access log matches (squid logs a request when it finishes). */
async function squidLogged(pattern: RegExp, proxy = squid): Promise<string> {
  await until(() => pattern.test(proxy.accessLog()), `squid's access log to match ${pattern}`, { everyMs: 50 })
  return proxy.accessLog()
}

t.test('the WebSocket control: the echo server works, but not through squid', async (t) => {
  // Directly (Node, no proxy) the echo server answers...
  const direct = new WebSocket(wsUrl)
  const echoed = await new Promise<string>((resolve, reject) => {
    direct.once('open', () => direct.send('ping'))
    direct.once('message', (data) => resolve(String(data)))
    direct.once('error', reject)
  })
  direct.close()
  t.equal(echoed, 'ping', 'the echo server echoes when reached directly')
  const before = wsConnections

  // ...but from a page of the same origin, through squid, the WebSocket never opens. (Not the demo page: its
  // Content-Security-Policy allows connections to its own origin only, which would block the attempt.)
  const page = (await openPeer(t, browser, `${server.url}/healthz`, 'ws-control')).page
  const outcome = await page.evaluate(
    (url) =>
      new Promise<{ opened: boolean; code: number }>((resolve) => {
        const socket = new WebSocket(url)
        let opened = false
        socket.onopen = () => {
          opened = true
          socket.send('ping')
        }
        socket.onmessage = () => socket.close()
        socket.onclose = (event) => resolve({ opened, code: event.code })
      }),
    wsUrl,
  )
  t.same(outcome, { opened: false, code: 1006 }, 'the WebSocket fails to open (1006: closed abnormally)')
  t.equal(wsConnections, before, 'no WebSocket connection reached the echo server')
  const port = wsUrl.split(':')[2].replace('/', '')
  const log = await squidLogged(new RegExp(`CONNECT 127\\.0\\.0\\.1:${port}`))
  t.match(log, new RegExp(`TCP_DENIED/403 \\d+ CONNECT 127\\.0\\.0\\.1:${port}`), 'squid denied the CONNECT tunnel (403)')
})

t.test('a call through squid: the page reaches sigpost only through the proxy', async (t) => {
  const alice = await openPeer(t, browser, `${server.url}/`, 'alice')
  const bob = await openPeer(t, browser, `${server.url}/`, 'bob')
  await Promise.all([register(alice.page, 'alice-squid'), register(bob.page, 'bob-squid')])
  // auto registers on long-poll, then upgrades once its probe stream has come through squid.
  for (const page of [alice.page, bob.page]) await waitForRtcEvent(page, 'rtc-transport', { detail: { transport: 'sse' } })
  t.same([await transports(alice.page), await transports(bob.page)], [['poll', 'sse'], ['poll', 'sse']], 'both registered on long-poll and upgraded')
  const used = [await transportInUse(alice.page), await transportInUse(bob.page)]
  t.comment(`through squid: alice reports ${JSON.stringify(await transports(alice.page))}, bob ${JSON.stringify(await transports(bob.page))}`)
  t.same(used, ['sse', 'sse'], 'squid passes the SSE stream through: both receive over SSE')

  await callConnectHangUp(t, alice.page, bob.page, 'bob-squid', `squid forward proxy (${used.join('/')})`)

  const origin = server.url.replace(/[.]/g, '\\.')
  const log = await squidLogged(new RegExp(`DELETE ${origin}/v1/calls/`))
  t.match(log, new RegExp(`GET ${origin}/ `), 'the page itself came through squid')
  t.match(log, new RegExp(`GET ${origin}/rtc-call\\.js`), 'and the element’s script')
  t.match(log, new RegExp(`POST ${origin}/v1/sessions`), 'registrations went through squid')
  t.match(log, new RegExp(`TCP_MISS/201 \\d+ POST ${origin}/v1/calls `), 'the call was placed through squid')
  t.match(log, new RegExp(`POST ${origin}/v1/calls/\\S+/accept`), 'and accepted through it')
  t.match(log, new RegExp(`POST ${origin}/v1/calls/\\S+/candidates`), 'candidates were trickled through it')
  t.match(log, new RegExp(`TCP_MISS/204 \\d+ DELETE ${origin}/v1/calls/`), 'and the hang-up')
})

t.test('a company proxy that refuses the API: the element reports proxy_error with the status and who answered, and says it', async (t) => {
  // Debian's rules plus a company's (test/helpers/middleboxes.ts): registering is refused with squid's own
  // HTML 403. Only this browser context uses that squid.
  const strict = await startSquid(t, { companyPolicy: true })
  const proxy = { server: strict.url, bypass: '<-loopback>' }
  const { page } = await openPeer(t, browser, `${server.url}/`, 'refused', { proxy })
  await page.getByLabel('Your name').fill('alice-refused')
  await page.getByRole('button', { name: 'Register', exact: true }).click()
  const error = await waitForRtcEvent(page, 'rtc-error')
  t.match(error.detail, { code: 'proxy_error', status: 403, answeredBy: /squid/ }, 'rtc-error proxy_error, 403, answered by squid (never http_403)')
  await page.locator('rtc-call [part~="error"]').getByText(/Something other than the call server answered \(HTTP 403, from .*squid/).waitFor()
  t.pass('the error line says so in a sentence')
  const origin = server.url.replace(/[.]/g, '\\.')
  t.match(await squidLogged(new RegExp(`POST ${origin}/v1/sessions `), strict), new RegExp(`TCP_DENIED/403 \\d+ POST ${origin}/v1/sessions `), 'squid refused it')
  // (A proxy login, 407, never reaches a page in Chromium: it asks for proxy credentials itself, and a
  // headless one waits — the request ends as network_error after its time-out. SignalClient in Node sees
  // the 407: test/web/signal-client.test.ts.)
})
