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
import { callAndTrickle, register as registerPeer, request, trickle, SseClient } from '../helpers/client.js'
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
    const log = (window.log = { events: [], transports: [], errors: [], probes: [] })
    const client = (window.client = new SignalClient({
      server: location.origin,
      ...options,
      // The transport in use when each event arrived, to see an upgrade happen under traffic.
      onEvent: (e) => log.events.push({ ...e, via: client.transportInUse }),
      onTransport: (transport) => log.transports.push(transport),
      onProbe: (proven) => log.probes.push(proven),
      onError: (e) => log.errors.push({ code: e.code, status: e.status }),
    }))
    const registration = await client.register(name)
    return { token: registration.token, transportInUse: client.transportInUse }
  }
  window.ready = true
</script>`

interface Log {
  events: Array<{ id: string; event: string; data: any; via?: string }>
  transports: string[]
  errors: Array<{ code: string; status: number }>
  probes: boolean[]
}

/**
 * A pass-through HTTP proxy in front of the server that can cut the event streams going through it, as a
 * proxy's idle time-out or a dropped connection would.
 */
async function startProxy(t: Test) {
  const streams = new Set<http.ServerResponse>()
  const upstreams = new Map<http.ServerResponse, http.IncomingMessage>()
  const proxy = http.createServer((req, res) => {
    const upstream = http.request(`${url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
      upstreams.set(res, answer)
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
    /** The open streams stop flowing, but stay open: a black hole (no error, no end). */
    freezeStreams: () => {
      for (const res of streams) {
        const answer = upstreams.get(res)
        answer?.unpipe(res)
        answer?.resume()
      }
      const frozen = streams.size
      streams.clear()
      return frozen
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

t.test('auto: long-poll first, then a probe; proven, it upgrades to SSE with the cursor, losing and repeating nothing under steady traffic', async (t) => {
  const { name, peer, log, until, transportInUse, streams } = await setup(t, { transport: 'auto' })
  t.equal(transportInUse, 'poll', 'register() resolves on the first long-poll')
  t.equal(pathOf(streams[0]), '/v1/poll', 'the first request is a poll')
  // Candidates flow all through the upgrade: one every few ms until the page is on SSE, then a few more.
  const callId = await callAndTrickle(peer, name, 0)
  let sent = 0
  let onSse = false
  const traffic = (async () => {
    for (let extra = 0; extra < 20 && sent < 2000; sent++) {
      await trickle(peer, callId, sent)
      if (onSse) extra++
    }
  })()
  await until('log.transports.includes("sse")')
  onSse = true
  await traffic
  await until(`log.events.length >= ${sent + 1}`)
  const { events, transports, probes, errors } = await log()
  t.same(transports, ['poll', 'sse'], 'the page hears poll, then sse')
  t.same(probes, [true], 'one probe, proven')
  const probe = streams.find((r) => pathOf(r) === '/v1/events')!
  t.equal(new URL(probe.url()).searchParams.get('probe'), '1', 'the first stream request is the probe')
  const real = streams.filter((r) => pathOf(r) === '/v1/events' && !new URL(r.url()).searchParams.has('probe'))
  t.equal(real.length, 1, 'one real stream')
  const candidates = events.filter((e) => e.event === 'iceCandidate')
  const viaPoll = candidates.filter((e) => e.via === 'poll').length
  t.ok(viaPoll > 0 && candidates.length - viaPoll > 0, `candidates arrived over long-poll (${viaPoll}) and then over SSE (${candidates.length - viaPoll})`)
  t.same(ports({ events } as Log), Array.from({ length: sent }, (_, n) => 50000 + n), 'every candidate once, in order, across the switch')
  t.equal(new Set(events.map((e) => e.id)).size, events.length, 'no id twice')
  t.same(errors, [])
})

t.test('auto: a probe that never flows (a buffering proxy) keeps long-poll, and is not tried again', async (t) => {
  const { name, peer, log, until, transportInUse, streams } = await setup(t, { transport: 'auto' }, async (page) => {
    // The request goes nowhere: no byte, no error, like a proxy that buffers the whole response.
    await page.route((u) => u.pathname === '/v1/events', () => {})
  })
  t.equal(transportInUse, 'poll', 'register() resolves on the long-poll at once')
  await until('log.probes.length >= 1')
  t.same((await log()).probes, [false], 'the probe failed')
  await callAndTrickle(peer, name, 1)
  await until('log.events.length >= 2')
  t.same((await log()).events.map((e) => e.event), ['incomingCall', 'iceCandidate'])
  t.same((await log()).transports, ['poll'], 'the page hears about poll only')
  t.same(streams.filter((r) => pathOf(r) === '/v1/events').map((r) => new URL(r.url()).searchParams.get('probe')), ['1'], 'one probe, no real stream')
})

t.test('auto: a probe that fails at once keeps long-poll', async (t) => {
  const { name, peer, log, until, transportInUse, streams } = await setup(t, { transport: 'auto' }, async (page) => {
    await page.route((u) => u.pathname === '/v1/events', (route) => route.abort('connectionreset'))
  })
  t.equal(transportInUse, 'poll')
  await until('log.probes.length >= 1')
  t.same((await log()).probes, [false])
  await callAndTrickle(peer, name, 0)
  await until('log.events.length >= 1')
  t.equal(streams.filter((r) => pathOf(r) === '/v1/events').length, 1, 'the failed probe was not retried')
  t.same((await log()).errors, [])
})

t.test('sse: a stream that goes silent without closing (a black hole) is resumed with the cursor', async (t) => {
  const proxy = await startProxy(t)
  const { name, peer, log, until, streams } = await setup(t, { transport: 'sse' }, undefined, proxy.url)
  const callId = await callAndTrickle(peer, name, 1)
  await until('log.events.length >= 2')
  const lastSeen = (await log()).events[1].id
  t.equal(proxy.freezeStreams(), 1, 'the stream is frozen, still open')
  await trickle(peer, callId, 1)
  await until('log.events.length >= 3')
  const resumed = streams.filter((r) => pathOf(r) === '/v1/events').slice(1)
  t.equal(new URL(resumed[0].url()).searchParams.get('lastEventId'), lastSeen, 'resumed from the last id it saw')
  t.same(ports(await log()), [50000, 50001], 'nothing lost, nothing twice')
  t.same((await log()).transports, ['sse'])
})

t.test('auto: when resumes keep failing (every stream a black hole), it goes back to long-poll', async (t) => {
  const proxy = await startProxy(t)
  const { page, name, peer, log, until } = await setup(t, { transport: 'auto' }, undefined, proxy.url)
  await until('log.transports.includes("sse")')
  const callId = await callAndTrickle(peer, name, 1)
  await until('log.events.length >= 2')
  // From now on no stream gets a byte; polls still work.
  await page.route((u) => u.pathname === '/v1/events', () => {})
  proxy.freezeStreams()
  await trickle(peer, callId, 1)
  await until('log.transports.length >= 3')
  await until('log.events.length >= 3')
  t.same((await log()).transports, ['poll', 'sse', 'poll'], 'back on long-poll')
  t.same(ports(await log()), [50000, 50001], 'nothing lost, nothing twice')
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
  await theirs.nextHeartbeat(2)
  await theirs.nextHeartbeat(3)
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
