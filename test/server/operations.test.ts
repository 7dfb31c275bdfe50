import { createHmac } from 'node:crypto'
import { createConnection } from 'node:net'
import t from 'tap'
import { buildApp } from '../../server/app.js'
import { startServer } from '../helpers/server.js'
import { until, within } from '../helpers/wait.js'
import { answer, candidate, offer, openStream, poll, register, request, SseClient } from '../helpers/client.js'

t.test('healthz, readyz, metrics', async (t) => {
  const { url } = await startServer(t)
  t.same((await request(url, 'GET', '/healthz')).body, { status: 'ok' })
  t.same((await request(url, 'GET', '/readyz')).body, { status: 'ready' })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const bobIn = await openStream(url, bob)
  const res = await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })
  await bobIn.next()
  await alice.post(`/v1/calls/${res.body.callId}/candidates`, { candidate: candidate(1) })
  await bobIn.next()
  await request(url, 'POST', '/v1/sessions', { body: { name: 'alice' } }) // 409
  const metrics = await request(url, 'GET', '/metrics')
  t.equal(metrics.status, 200)
  t.match(metrics.headers.get('content-type'), /^text\/plain/)
  const text = metrics.body as string
  t.match(text, /^sigpost_sessions 2$/m)
  t.match(text, /^sigpost_open_streams\{transport="sse"\} 1$/m)
  t.match(text, /^sigpost_open_streams\{transport="poll"\} 0$/m)
  t.match(text, /^sigpost_calls 1$/m)
  t.match(text, /^sigpost_events_delivered_total\{transport="sse",event="iceCandidate"\} 1$/m)
  t.match(text, /^sigpost_mailbox_undelivered_events 0$/m)
  t.match(text, /^sigpost_errors_total\{code="name_taken"\} 1$/m)
  t.match(text, /^process_resident_memory_bytes \d+/m)
  bobIn.close()
})

t.test('options given as undefined mean their defaults: redisUrl: process.env.REDIS_URL unset is the in-memory store', async (t) => {
  // docs/embedding.md's first example passes `redisUrl: process.env.REDIS_URL`; unset, it must not dial Redis.
  const app = await buildApp({ logger: false, redisUrl: undefined, graceMs: undefined })
  t.teardown(() => app.close())
  const registered = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'undefined-options' } })
  t.equal(registered.statusCode, 201, 'registering works at once (no Redis to reach)')
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'and the server is ready')
})

t.test('ICE servers: STUN only by default, TURN REST credentials when a secret is set', async (t) => {
  const plain = await startServer(t, { stunUrls: ['stun:stun.example.org:3478'] })
  const a = await register(plain.url, 'alice')
  t.same((await a.get('/v1/ice-servers')).body, { iceServers: [{ urls: ['stun:stun.example.org:3478'] }], ttl: 86400 })

  const { url } = await startServer(t, { turnSecret: 'north-wind', turnUrls: ['turn:127.0.0.1:3478?transport=tcp'], turnTtlS: 600 })
  const registered = await request(url, 'POST', '/v1/sessions', { body: { name: 'bob' } })
  const bob = registered.body
  const res = await request(url, 'GET', '/v1/ice-servers', { token: bob.token })
  t.equal(res.body.ttl, 600)
  const [turn] = res.body.iceServers
  t.same(turn.urls, ['turn:127.0.0.1:3478?transport=tcp'])
  const [expiry, name] = turn.username.split(':')
  t.equal(name, 'bob')
  const inSeconds = Number(expiry) - Date.now() / 1000
  t.ok(inSeconds > 590 && inSeconds <= 601, 'expires ttl seconds from now')
  t.equal(turn.credential, createHmac('sha1', 'north-wind').update(turn.username).digest('base64'), 'coturn\'s static-auth-secret check')
  t.same(bob.iceServers.map((s: any) => s.urls), [['turn:127.0.0.1:3478?transport=tcp']], 'the register response carries the same list')
  t.equal((await request(url, 'GET', '/v1/ice-servers')).status, 401)

  // Whatever order TURN_URLS has: UDP first, then TCP, then TLS, TLS on 443 last.
  const mixed = await startServer(t, {
    turnSecret: 'north-wind', stunUrls: ['stun:turn.example.org:3478'],
    turnUrls: ['turns:turn.example.org:443?transport=tcp', 'turn:turn.example.org:3478?transport=tcp', 'turns:turn.example.org:5349?transport=tcp', 'turn:turn.example.org:3478?transport=udp', 'turn:turn.example.org:3479'],
  })
  const carol = await request(mixed.url, 'POST', '/v1/sessions', { body: { name: 'carol' } })
  const ordered = [['stun:turn.example.org:3478'], ['turn:turn.example.org:3478?transport=udp', 'turn:turn.example.org:3479', 'turn:turn.example.org:3478?transport=tcp', 'turns:turn.example.org:5349?transport=tcp', 'turns:turn.example.org:443?transport=tcp']]
  t.same(carol.body.iceServers.map((s: any) => s.urls), ordered, 'POST /v1/sessions: STUN, turn: UDP, turn: TCP, turns:, turns: on 443 last')
  t.same((await request(mixed.url, 'GET', '/v1/ice-servers', { token: carol.body.token })).body.iceServers.map((s: any) => s.urls), ordered, 'GET /v1/ice-servers: the same order')
})

t.test('OpenAPI description at /docs/json, UI at /docs', async (t) => {
  const { url } = await startServer(t)
  const doc = await request(url, 'GET', '/docs/json')
  t.equal(doc.status, 200)
  t.match(doc.body.openapi, /^3\./)
  for (const path of ['/v1/sessions', '/v1/sessions/current', '/v1/events', '/v1/poll', '/v1/calls', '/v1/calls/{callId}', '/v1/calls/{callId}/accept', '/v1/calls/{callId}/reject', '/v1/calls/{callId}/candidates', '/v1/calls/{callId}/sdp', '/v1/ice-servers']) {
    t.ok(doc.body.paths[path], path)
  }
  t.equal((await fetch(`${url}/docs`, { redirect: 'follow' })).status, 200)
})

t.test('CORS: any origin by default, no credentials; preflights for Authorization', async (t) => {
  const { url } = await startServer(t)
  const pre = await fetch(`${url}/v1/calls`, {
    method: 'OPTIONS',
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
  })
  t.equal(pre.status, 204)
  t.equal(pre.headers.get('access-control-allow-origin'), '*')
  t.match(pre.headers.get('access-control-allow-headers'), /authorization/i)
  t.match(pre.headers.get('access-control-allow-methods'), /POST/)
  t.notOk(pre.headers.get('access-control-allow-credentials'))
  const simple = await fetch(`${url}/healthz`, { headers: { origin: 'https://shop.example' } })
  t.equal(simple.headers.get('access-control-allow-origin'), '*')
})

t.test('CORS: an allow-list when configured', async (t) => {
  const { url } = await startServer(t, { corsOrigins: ['https://app.example'] })
  const ok = await fetch(`${url}/healthz`, { headers: { origin: 'https://app.example' } })
  t.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example')
  const other = await fetch(`${url}/healthz`, { headers: { origin: 'https://evil.example' } })
  t.equal(other.headers.get('access-control-allow-origin'), null)
})

t.test('the token never appears in the log', async (t) => {
  const { url, log } = await startServer(t, { captureLog: true, logRequests: 'all' })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const viaQuery = new SseClient(url, { query: `token=${encodeURIComponent(bob.token)}` })
  await viaQuery.next()
  const res = await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })
  await viaQuery.next()
  await bob.post(`/v1/calls/${res.body.callId}/accept`, { sdpAnswer: answer })
  await poll(alice, `token=${alice.token}&wait=0`)
  await request(url, 'GET', `/v1/poll?token=${alice.token}&wait=nope`)
  await request(url, 'GET', `/v1/nothing?token=${alice.token}`)
  await request(url, 'POST', '/v1/calls', { headers: { authorization: `Bearer ${alice.token}x` }, body: {} })
  viaQuery.close()
  await viaQuery.ended
  const all = log.join('')
  t.ok(log.length > 10, 'requests were logged')
  t.match(all, /"route":"\/v1\/poll"/, 'a request is logged by its route, without the query string')
  for (const token of [alice.token, bob.token]) t.notOk(all.includes(token), 'no token in the log')
})

t.test('close() returns promptly with streams and polls open, ending them', async (t) => {
  const app = await buildApp({ logger: false, heartbeatMs: 60_000 })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const stream = await openStream(url, alice)
  const waiting = poll(bob, 'wait=60')
  // The poll is parked once it is counted as bob's live stream.
  await until(async () => (await app.store.stats()).streams.poll > 0, 'the poll to be parked', { everyMs: 0 })
  await app.close()
  await stream.ended
  t.same((await waiting).body, { events: [] }, 'the waiting poll was answered')
  t.pass('close() returned with a stream open')
})

t.test('a keep-alive request in flight when close() starts cannot hold close() up for the keep-alive time-out', async (t) => {
  const app = await buildApp({ logger: false })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  // A keep-alive client (a browser, a proxy's pool) whose registration is still arriving when the server is
  // told to stop: half of the body now, the rest once close() has begun.
  const socket = createConnection({ port, host: '127.0.0.1' })
  let received = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => (received += chunk))
  const closedByServer = new Promise<void>((resolve) => socket.on('end', resolve))
  const requestArrived = new Promise<void>((resolve) => app.server.once('request', () => resolve()))
  const body = JSON.stringify({ name: 'carol' })
  socket.write(`POST /v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`)
  await within(requestArrived, 'the request head to reach the server')
  const closing = app.close()
  socket.write(body.slice(5))
  // Node's close() closes the connections idle at that moment; this one turns idle once its request is
  // answered, and would then be waited for until KEEP_ALIVE_TIMEOUT_MS (75 s) without closeIdleWhileClosing.
  await within(closing, 'close() with a keep-alive request in flight', 30_000)
  await closedByServer
  t.match(received, /^HTTP\/1\.1 201 /, 'the request in flight was answered, then the connection closed by the server')
  socket.destroy()
})

t.test('a client that never closes its side of an ended stream cannot hold close() up', async (t) => {
  t.setTimeout(60_000) // a hang here is the failure
  const app = await buildApp({ logger: false, heartbeatMs: 60_000 })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const alice = await register(`http://127.0.0.1:${port}`, 'alice')
  // A client whose side stays open after the server's end (a vanished phone, a half-open proxy).
  const socket = createConnection({ port, host: '127.0.0.1', allowHalfOpen: true })
  let received = ''
  socket.setEncoding('utf8')
  const ready = new Promise<void>((resolve) => socket.on('data', (chunk: string) => {
    received += chunk
    if (received.includes('event: ready')) resolve()
  }))
  const serverEnded = new Promise<void>((resolve) => socket.on('end', resolve))
  socket.write(`GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.token}\r\n\r\n`)
  await ready
  const newer = await openStream(`http://127.0.0.1:${port}`, alice)
  await serverEnded
  t.match(received, /event: replaced\r?\ndata: \{\}/, 'the replaced stream was told, then ended by the server')
  newer.close()
  await app.close()
  t.pass('close() returned although the client never closed its side')
  socket.destroy()
})
