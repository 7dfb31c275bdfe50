/**
 * The signal client's SSE decisions in real Chromium (real EventSource) against the real server:
 * ready, resume after a drop, transport switch with the same cursor, `auto` falling back to long-poll
 * (silent stream, failing stream), `replaced` (stop, never take the stream back), 401.
 * The client is bundled on the fly and served on the server's origin by fulfilling a URL.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { build } from 'esbuild'
import type { Page, Request } from 'playwright-core'
import { launchBrowser, openPeer } from '../helpers/browser.js'
import { callAndTrickle, register as registerPeer, request, trickle, SseClient, type Peer } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'

// A heartbeat every second gives the `replaced` test an event to wait for.
const { url } = await startServer(t, { logger: false, heartbeatMs: 1000 })
const browser = await launchBrowser(t)

const bundle = await build({
  entryPoints: [new URL('../../web/signal-client.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  write: false,
})
const harness = `<!doctype html><title>signal client</title><link rel="icon" href="data:,">
<script type="module">
  import { SignalClient } from '/__test/signal-client.js'
  // One client per page; what it tells its owner goes to window.log.
  window.start = async (name, options) => {
    const log = (window.log = { events: [], transports: [], errors: [] })
    const client = (window.client = new SignalClient({
      server: location.origin,
      ...options,
      onEvent: (e) => log.events.push(e),
      onTransport: (transport) => log.transports.push(transport),
      onError: (e) => log.errors.push({ code: e.code, status: e.status }),
    }))
    const registration = await client.register(name)
    return { token: registration.token, transportInUse: client.transportInUse }
  }
  window.ready = true
</script>`

interface Log {
  events: Array<{ id: string; event: string; data: any }>
  transports: string[]
  errors: Array<{ code: string; status: number }>
}

/**
 * A pass-through HTTP proxy in front of the server that can cut the event streams going through it, as a
 * proxy's idle time-out or a dropped connection would.
 */
async function startProxy(t: Test) {
  const streams = new Set<http.ServerResponse>()
  const proxy = http.createServer((req, res) => {
    const upstream = http.request(`${url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    upstream.on('error', () => res.destroy())
    res.on('close', () => upstream.destroy())
    req.pipe(upstream)
    if (req.url?.startsWith('/v1/events')) {
      streams.add(res)
      res.on('close', () => streams.delete(res))
    }
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    proxy.closeAllConnections()
    return new Promise((resolve) => proxy.close(resolve))
  })
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    cutStreams: () => {
      for (const res of streams) res.destroy()
    },
  }
}

let names = 0
async function setup(t: Test, options: Record<string, unknown>, prepare?: (page: Page) => Promise<void>, base = url) {
  const { page, context } = await openPeer(t, browser, 'about:blank', 'client')
  await context.route(`${base}/__test/**`, (route) =>
    route.fulfill(
      route.request().url().endsWith('.js')
        ? { contentType: 'text/javascript', body: bundle.outputFiles[0].text }
        : { contentType: 'text/html', body: harness },
    ),
  )
  const streams: Request[] = []
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/v1/events' || new URL(r.url()).pathname === '/v1/poll') streams.push(r)
  })
  await prepare?.(page)
  await page.goto(`${base}/__test/index.html`)
  await page.waitForFunction(() => (window as any).ready)
  const name = `sse-${++names}`
  const started: { token: string; transportInUse: string } = await page.evaluate(
    ({ name, options }) => (window as any).start(name, options),
    { name, options },
  )
  const peer = await registerPeer(url, `peer-sse-${names}`)
  const log = () => page.evaluate(() => (window as any).log as Log)
  const until = (fn: string) => page.waitForFunction(`(() => { const log = window.log; return ${fn} })()`, undefined, { timeout: 60_000 })
  return { page, context, name, peer, streams, log, until, ...started }
}



const ports = (log: Log) => log.events.filter((e) => e.event === 'iceCandidate').map((e) => Number(e.data.candidate.candidate.split(' ')[5]))
const pathOf = (r: Request) => new URL(r.url()).pathname

t.test('sse: register resolves on ready; events arrive once, in order', async (t) => {
  const { name, peer, log, until, transportInUse, streams } = await setup(t, { transport: 'sse' })
  t.equal(transportInUse, 'sse')
  t.same((await log()).transports, ['sse'])
  t.same(streams.map(pathOf), ['/v1/events'], 'one stream')
  await callAndTrickle(peer, name, 2)
  await until('log.events.length >= 3')
  const { events } = await log()
  t.same(events.map((e) => e.event), ['incomingCall', 'iceCandidate', 'iceCandidate'])
  t.same(ports(await log()), [50000, 50001])
  t.equal(new Set(events.map((e) => e.id)).size, 3)
})

t.test('sse: after a dropped stream it resumes from the last seen id; nothing lost or repeated', async (t) => {
  const proxy = await startProxy(t)
  const { name, peer, log, until, streams } = await setup(t, { transport: 'sse' }, undefined, proxy.url)
  const callId = await callAndTrickle(peer, name, 1)
  await until('log.events.length >= 2')
  const lastSeen = (await log()).events[1].id
  proxy.cutStreams()
  await trickle(peer, callId, 1)
  await trickle(peer, callId, 2)
  await until('log.events.length >= 4')
  const resumed = streams.filter((r) => pathOf(r) === '/v1/events').slice(1)
  t.ok(resumed.length >= 1, 'it reconnected')
  t.equal(new URL(resumed[0].url()).searchParams.get('lastEventId'), lastSeen, 'with the last id it saw')
  t.same(ports(await log()), [50000, 50001, 50002], 'nothing lost, nothing twice, in order')
  t.same((await log()).errors, [])
  t.same((await log()).transports, ['sse'], 'still on SSE')
})

t.test('switching sse → poll → sse keeps the cursor', async (t) => {
  const { page, name, peer, log, until, streams } = await setup(t, { transport: 'sse' })
  const callId = await callAndTrickle(peer, name, 1)
  await until('log.events.length >= 2')
  await page.evaluate(() => (window as any).client.setTransport('poll'))
  const poll = streams.find((r) => pathOf(r) === '/v1/poll')!
  t.equal(new URL(poll.url()).searchParams.get('after'), (await log()).events[1].id, 'the first poll continues after the last SSE event')
  await trickle(peer, callId, 1)
  await until('log.events.length >= 3')
  await page.evaluate(() => (window as any).client.setTransport('sse'))
  const sse = streams.filter((r) => pathOf(r) === '/v1/events').at(-1)!
  t.equal(new URL(sse.url()).searchParams.get('lastEventId'), (await log()).events[2].id, 'and SSE continues after the last polled one')
  await trickle(peer, callId, 2)
  await until('log.events.length >= 4')
  t.same(ports(await log()), [50000, 50001, 50002])
  t.same((await log()).transports, ['sse', 'poll', 'sse'], 'the page is told each switch')
})

t.test('auto: a stream that never says ready (a buffering proxy) falls back to long-poll', async (t) => {
  const started = Date.now()
  const { name, peer, log, until, transportInUse, streams } = await setup(t, { transport: 'auto' }, async (page) => {
    // The request goes nowhere: no byte, no error, like a proxy that buffers the whole response.
    await page.route((u) => u.pathname === '/v1/events', () => {})
  })
  t.comment(`auto fell back to long-poll after ${Date.now() - started} ms (page load included)`)
  t.equal(transportInUse, 'poll', 'register() resolves on the long-poll')
  t.same((await log()).transports, ['poll'], 'the page hears about poll only')
  t.same(streams.map(pathOf).slice(0, 2), ['/v1/events', '/v1/poll'])
  await callAndTrickle(peer, name, 1)
  await until('log.events.length >= 2')
  t.same((await log()).events.map((e) => e.event), ['incomingCall', 'iceCandidate'])
})

t.test('auto: a stream that keeps failing falls back to long-poll', async (t) => {
  const { name, peer, log, until, transportInUse, streams } = await setup(t, { transport: 'auto' }, async (page) => {
    await page.route((u) => u.pathname === '/v1/events', (route) => route.abort('connectionreset'))
  })
  t.equal(transportInUse, 'poll')
  t.ok(streams.filter((r) => pathOf(r) === '/v1/events').length >= 2, 'after repeated attempts')
  await callAndTrickle(peer, name, 0)
  await until('log.events.length >= 1')
  t.same((await log()).errors, [])
})

t.test('sse: a stream replaced by a newer one stops and never takes it back', async (t) => {
  const { token, log, until, streams } = await setup(t, { transport: 'sse' })
  const theirs = new SseClient(url, { token })
  t.teardown(() => theirs.close())
  await theirs.opened
  await theirs.nextOf('ready')
  await until('log.errors.length >= 1')
  t.same((await log()).errors, [{ code: 'replaced', status: 0 }])
  const count = streams.length
  // Two heartbeats later the newer stream is still live: we did not reconnect and replace it.
  await theirs.nextComment()
  await theirs.nextComment()
  t.notOk(theirs.events.some((e) => e.event === 'replaced'), 'the newer stream was left alone')
  t.equal(streams.length, count, 'no new request')
})

t.test('sse: when the session is gone (401) the client says unauthorized and stops', async (t) => {
  const { token, log, until } = await setup(t, { transport: 'sse' })
  const gone = await request(url, 'DELETE', '/v1/sessions/current', { token })
  t.equal(gone.status, 204)
  await until('log.errors.length >= 1')
  t.same((await log()).errors, [{ code: 'unauthorized', status: 401 }])
})

// See test/web/signal-client.test.ts: Node-side keep-alive sockets would delay the root test's end.
t.end()
