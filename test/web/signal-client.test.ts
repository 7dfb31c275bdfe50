/**
 * The signal client's decisions against the real server, in Node (the client is isomorphic; Node 20 has
 * no EventSource, so these are the long-poll paths — test/web/signal-client-sse.test.ts runs the SSE ones
 * in Chromium). A wrapping `fetch` plays the unreliable network: it loses or repeats responses.
 */
import t, { type Test } from 'tap'
import { SignalClient, type SignalError, type SignalEvent, type TransportKind } from '../../web/signal-client.js'
import { callAndTrickle, register as registerPeer, request, trickle } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'
import { fetchViaProxy, startSquid } from '../helpers/middleboxes.js'
import { within } from '../helpers/wait.js'

// keepAliveTimeoutMs: a server-side socket of the squid case outlives app.close() (no longer counted by the
// closed server, still under its keep-alive timer) and held the process — and each Node lane — for 75 s.
// Not understood yet: left for the issue "Calls that survive" (server restarts).
const { url } = await startServer(t, { logger: false, ringTimeoutMs: 3000, keepAliveTimeoutMs: 1000 })

/** What the client told its owner, with a way to wait for it. */
class Inbox {
  events: SignalEvent[] = []
  transports: TransportKind[] = []
  errors: SignalError[] = []
  private waiters: Array<() => void> = []

  readonly handlers = {
    onEvent: (event: SignalEvent) => this.push(() => this.events.push(event)),
    onTransport: (transport: TransportKind) => this.push(() => this.transports.push(transport)),
    onError: (error: SignalError) => this.push(() => this.errors.push(error)),
  }

  private push(fn: () => void): void {
    fn()
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  async until(condition: () => boolean): Promise<void> {
    while (!condition()) await within(new Promise<void>((resolve) => this.waiters.push(resolve)), `${condition}`)
  }
}

/** `fetch` that records long-poll URLs and can lose the next response, or repeat old events in it. */
class FlakyNetwork {
  polls: URL[] = []
  loseNextPollResponse = false
  repeatInNextPollResponse = false
  private lastPollEvents: unknown[] = []

  readonly fetch: typeof fetch = async (input, init) => {
    const target = new URL(String(input))
    if (target.pathname !== '/v1/poll') return fetch(input, init)
    this.polls.push(target)
    const response = await fetch(input, init)
    const text = await response.text()
    if (!response.ok) return new Response(text, { status: response.status, headers: response.headers })
    const body = JSON.parse(text)
    if (this.loseNextPollResponse && body.events.length > 0) {
      // The server sent it; the client never sees it (a dropped connection, a proxy time-out).
      this.loseNextPollResponse = false
      throw new TypeError('fetch failed')
    }
    if (this.repeatInNextPollResponse && body.events.length > 0) {
      this.repeatInNextPollResponse = false
      body.events = [...this.lastPollEvents, ...body.events]
    }
    if (body.events.length > 0) this.lastPollEvents = body.events
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } })
  }
}

let names = 0
async function setup(t: Test, options: Partial<ConstructorParameters<typeof SignalClient>[0]> = {}) {
  const inbox = new Inbox()
  const network = new FlakyNetwork()
  const client = new SignalClient({ server: url, transport: 'poll', fetch: network.fetch, ...inbox.handlers, ...options })
  t.teardown(() => client.close())
  const name = `me-${++names}`
  await client.register(name)
  const peer = await registerPeer(url, `peer-${names}`)
  return { inbox, network, client, name, peer }
}



const port = (event: SignalEvent) => (event.event === 'iceCandidate' ? Number(String(event.data.candidate?.candidate).split(' ')[5]) : NaN)

t.test('long-poll: register resolves once attached; events arrive once, in order; the cursor follows', async (t) => {
  const { inbox, network, client, name, peer } = await setup(t)
  t.equal(client.transportInUse, 'poll')
  t.same(inbox.transports, ['poll'], 'the page is told which transport is in use')
  t.equal(network.polls[0].searchParams.get('wait'), '0', 'the first poll does not wait, so register() resolves at once')
  t.equal(network.polls[0].searchParams.has('after'), false, 'and starts from the oldest held event')

  await callAndTrickle(peer, name, 3)
  await inbox.until(() => inbox.events.length >= 4)
  t.same(inbox.events.map((e) => e.event), ['incomingCall', 'iceCandidate', 'iceCandidate', 'iceCandidate'])
  t.same(inbox.events.slice(1).map(port), [50000, 50001, 50002], 'in the order they were sent')
  t.equal(new Set(inbox.events.map((e) => e.id)).size, 4, 'each once')
  t.equal(client.lastEventId, inbox.events[3].id)
  const cursors = network.polls.slice(1).map((u) => u.searchParams.get('after'))
  t.ok(cursors.every((after) => after === null || inbox.events.some((e) => e.id === after)), 'every poll carries a seen id as its cursor')
  t.equal(network.polls.at(-1)!.searchParams.get('after'), inbox.events[3].id, 'the pending poll waits after the last one')
})

t.test('a lost poll response is fetched again with the same cursor: nothing lost, nothing twice', async (t) => {
  const { inbox, network, name, peer } = await setup(t)
  const callId = await callAndTrickle(peer, name, 0)
  await inbox.until(() => inbox.events.length >= 1)
  const seen = inbox.events[0].id

  network.loseNextPollResponse = true
  await trickle(peer, callId, 0)
  await trickle(peer, callId, 1)
  await inbox.until(() => inbox.events.length >= 3)
  const fromSeen = network.polls.filter((u) => u.searchParams.get('after') === seen)
  t.ok(fromSeen.length >= 2, 'the poll after the lost one resumes from the last id the client saw')
  t.same(inbox.events.map((e) => e.event), ['incomingCall', 'iceCandidate', 'iceCandidate'])
  t.same(inbox.events.slice(1).map(port), [50000, 50001], 'the lost events came again, once, in order')
})

t.test('events repeated by the network are delivered once (de-duplication by id)', async (t) => {
  const { inbox, network, name, peer } = await setup(t)
  const callId = await callAndTrickle(peer, name, 1)
  await inbox.until(() => inbox.events.length >= 2)
  network.repeatInNextPollResponse = true
  await trickle(peer, callId, 1)
  await inbox.until(() => inbox.events.length >= 3)
  await trickle(peer, callId, 2)
  await inbox.until(() => inbox.events.length >= 4)
  t.same(inbox.events.slice(1).map(port), [50000, 50001, 50002], 'the repeated ones were dropped')
  t.equal(new Set(inbox.events.map((e) => e.id)).size, inbox.events.length)
})

t.test('a stream replaced by a newer one stops and does not take it back', async (t) => {
  const { inbox, client, network } = await setup(t)
  const token = client.registration!.token
  // Another holder of the token attaches a stream: our pending long-poll answers {replaced: true}.
  const theirs = request(url, 'GET', `/v1/poll?wait=2&token=${encodeURIComponent(token)}`)
  await inbox.until(() => inbox.errors.length >= 1)
  t.equal(inbox.errors[0].code, 'replaced')
  const polls = network.polls.length
  const answer = await theirs
  t.equal(answer.status, 200)
  t.notOk(answer.body.replaced, 'the newer stream kept its place for its whole wait: we did not poll again')
  t.equal(network.polls.length, polls)
})

t.test('401 on the stream: the session is gone, the client says so and stops', async (t) => {
  const { inbox, client, network } = await setup(t)
  const token = client.registration!.token
  const gone = await request(url, 'DELETE', '/v1/sessions/current', { token })
  t.equal(gone.status, 204)
  await inbox.until(() => inbox.errors.length >= 1)
  t.equal(inbox.errors[0].code, 'unauthorized')
  t.equal(inbox.errors[0].status, 401)
  t.equal((await fetch(network.polls.at(-1)!)).status, 401, 'the last poll it made was answered 401')
})

t.test('auto without EventSource (Node) uses long-poll', async (t) => {
  const { inbox, client } = await setup(t, { transport: 'auto', EventSource: null })
  t.equal(client.transportInUse, 'poll')
  t.same(inbox.transports, ['poll'])
})

t.test('errors carry the contract code', async (t) => {
  const { name } = await setup(t)
  const again = new SignalClient({ server: url, transport: 'poll' })
  await t.rejects(again.register(name), { code: 'name_taken', status: 409 }, 'a taken name')
  await t.rejects(again.register('-bad'), { code: 'invalid_name', status: 400 })
  const nowhere = new SignalClient({ server: 'http://127.0.0.1:9', transport: 'poll' })
  await t.rejects(nowhere.register('x'), { code: 'network_error' }, 'an unreachable server')
  await t.rejects(again.request('GET', '/v1/sessions'), { code: 'invalid_state' }, 'no token, no request')
})

// In scripts/test.sh's Node lanes (SIGPOST_NODE_LANE) this case is left to the main run: it tests squid's answers.
const squidOnce = process.env.SIGPOST_NODE_LANE ? { skip: 'squid, the same on every Node: the main run has it' } : {}
t.test('proxy_error: squid\'s own answers (403, 407) are told apart from sigpost\'s, with the status and who answered', squidOnce, async (t) => {
  // Debian's squid.conf plus a company's rules (test/helpers/middleboxes.ts): registering is refused, and
  // the API at `localhost` needs a proxy login. The client sends everything through squid, as a browser would.
  const squid = await startSquid(t, { companyPolicy: true })
  const port = new URL(url).port
  const through = (server: string) => new SignalClient({ server, transport: 'poll', fetch: fetchViaProxy(squid.url) })

  // The control: sigpost's own answer, through the same proxy (which adds its Via), keeps its code.
  await t.rejects(through(url).request('GET', '/v1/sessions', undefined, { auth: false }), { code: 'unauthorized', status: 401 }, 'sigpost\'s JSON error through squid is sigpost\'s')

  const refused = (await through(url).register('alice-proxied').catch((error: SignalError) => error)) as SignalError
  t.match(refused, { code: 'proxy_error', status: 403, answeredBy: /squid/ }, 'a refused registration: proxy_error, 403, answered by squid')
  t.match(refused.message, /HTTP 403 by .*squid.*text\/html.*not by sigpost/, `the message says what answered: "${refused.message}"`)

  const login = await through(`http://localhost:${port}`).request('GET', '/v1/sessions', undefined, { auth: false }).catch((error: SignalError) => error)
  t.match(login, { code: 'proxy_error', status: 407, answeredBy: /squid/ }, 'a proxy login: proxy_error, 407 (never http_407)')

  // Debian's own rule: ports outside Safe_ports (1024 is one) are refused before squid connects anywhere.
  const port1024 = await through('http://127.0.0.1:1024').register('bob-proxied').catch((error: SignalError) => error)
  t.match(port1024, { code: 'proxy_error', status: 403, answeredBy: /squid/ }, 'a port squid refuses: proxy_error, 403')

  // Registered directly, but the stream's polls go through squid, which wants a login for the API at
  // localhost: register() rejects with proxy_error 407 instead of waiting out its time-out.
  const viaSquid = fetchViaProxy(squid.url)
  const split: typeof fetch = (input, init) => (new URL(String(input)).pathname === '/v1/sessions' ? fetch(input, init) : viaSquid(input, init))
  const polled = new SignalClient({ server: `http://localhost:${port}`, transport: 'poll', fetch: split })
  await t.rejects(polled.register('carol-proxied'), { code: 'proxy_error', status: 407, answeredBy: /squid/ }, 'polls refused by the proxy: register() says proxy_error 407')

  const log = squid.accessLog()
  t.match(log, /TCP_DENIED\/403 \d+ POST http:\/\/127\.0\.0\.1:\d+\/v1\/sessions /, 'squid logged the refused registration')
  t.match(log, /TCP_DENIED\/407 \d+ GET http:\/\/localhost:\d+\/v1\/sessions /, 'and the login it asked for')
})

t.test('server: validated at once; in Node a relative URL is an error, not a hang', async (t) => {
  const code = (server: string) => {
    try {
      return new SignalClient({ server, EventSource: null }).server
    } catch (error) {
      return (error as SignalError).code
    }
  }
  t.equal(code('/signal'), 'invalid_server', 'relative, with no page to resolve it against')
  t.equal(code('localhost:3000'), 'invalid_server', 'no scheme')
  t.equal(code('example.com/signal'), 'invalid_server', 'no scheme, no port')
  t.equal(code('ftp://host'), 'invalid_server')
  t.equal(code('http://'), 'invalid_server', 'not a URL')
  t.equal(code('https://host/signal/'), 'https://host/signal', 'a prefix is kept, the trailing slash dropped')
  const { url } = await startServer(t, { logger: false })
  const wrong = new SignalClient({ server: `${url}/signal`, EventSource: null })
  const error = await wrong.register('wrong-prefix').then(() => null, (e: SignalError) => e)
  t.equal(error?.code, 'wrong_server', 'a path where no sigpost answers: said on the first request')
  wrong.close()
})

// End the root test explicitly: the server side of our keep-alive fetch sockets would otherwise keep the
// event loop busy for Fastify's keepAliveTimeout (72 s) before the root test ends and its teardown closes the app.
t.end()
