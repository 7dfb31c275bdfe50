/**
 * The edge against hostile clients (docs/operations.md "Limits and abuse"), over real sockets: time-outs for slow
 * headers and bodies (streams and long-polls untouched), the per-address connection cap and its
 * trusted-proxy exemption, Fastify's own errors in the contract's shape without the URL, depth-limited
 * JSON, request logs (LOG_REQUESTS, no token however spelled), security headers and METRICS_TOKEN.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startServer } from '../helpers/server.js'
import { offer, openStream, poll, register, request, SseClient } from '../helpers/client.js'
import { connect, exchange, parseResponse, trickle } from '../helpers/raw.js'

const nested = (depth: number): unknown => {
  let value: unknown = 'leaf'
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { x: value }
  return value
}

/** Waits until the server reports no open SSE stream (its close has been handled, and logged or not). */
async function streamsClosed(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (/^sigpost_open_streams\{transport="sse"\} 0$/m.test((await request(url, 'GET', '/metrics')).body)) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error('the stream was never seen closed')
}

t.test('time-outs: slow headers and a slow body are cut with 408; streams, long-polls and honest clients are not', async (t) => {
  const { url } = await startServer(t, { headersTimeoutMs: 1000, requestTimeoutMs: 2000, connectionsCheckIntervalMs: 50, keepAliveTimeoutMs: 1500, heartbeatMs: 700 })

  const slowHeaders = await connect(url, '127.0.0.2')
  slowHeaders.socket.write('GET /healthz HTTP/1.1\r\nHost: sigpost\r\n')
  const headers = await trickle(slowHeaders, 'X-Slow: ' + 'a'.repeat(200), 50)
  t.ok(headers.closedEarly, 'a request whose headers trickle in is closed')
  t.same(parseResponse(headers.text).body, { error: 'request_timeout', message: 'The request did not arrive whole in time; send it again.' })
  t.equal(parseResponse(headers.text).status, 408)

  const slowBody = await connect(url, '127.0.0.2')
  slowBody.socket.write('POST /v1/sessions HTTP/1.1\r\nHost: sigpost\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n')
  const body = await trickle(slowBody, `{"name":"${'s'.repeat(280)}"}`, 50)
  t.ok(body.closedEarly, 'a body sent a byte now and then is closed')
  t.equal(parseResponse(body.text).status, 408)
  t.equal(parseResponse(body.text).body.error, 'request_timeout')

  const idle = await connect(url)
  idle.socket.write('GET /healthz HTTP/1.1\r\nHost: sigpost\r\n\r\n')
  t.match(await idle.closed, /^HTTP\/1\.1 200 /, 'an idle keep-alive connection is closed by the server after its answer')

  // A stream and a long-poll outlive the request time-out (4 heartbeats: 2.8 s).
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const bobIn = await openStream(url, bob)
  for (let i = 0; i < 4; i++) await bobIn.nextHeartbeat()
  t.equal((await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })).status, 201, 'the honest client calls')
  t.equal((await bobIn.nextOf('incomingCall')).data.from, 'alice', 'the stream still delivers')
  bobIn.close()
  const waited = await poll(alice, 'wait=3')
  t.same([waited.status, waited.body.events], [200, []], 'a 3 s long-poll answers after its wait')
})

t.test('MAX_CONNECTIONS_PER_IP: one address is refused past its cap with 429, logged once; others call normally', async (t) => {
  const { url, log } = await startServer(t, { maxConnectionsPerIp: 5, captureLog: true })
  const held = await Promise.all(Array.from({ length: 5 }, () => connect(url, '127.0.0.2')))
  const refused = await Promise.all(Array.from({ length: 3 }, () => connect(url, '127.0.0.2').then((c) => c.closed)))
  for (const text of refused) {
    const answer = parseResponse(text)
    t.equal(answer.status, 429)
    t.equal(answer.body.error, 'rate_limited')
    t.equal(answer.headers.connection, 'close')
  }
  t.equal(log.filter((line) => line.includes('MAX_CONNECTIONS_PER_IP')).length, 1, 'one warning line for three refusals')
  t.match(log.find((line) => line.includes('MAX_CONNECTIONS_PER_IP')), /"remoteAddress":"127\.0\.0\.2"/)

  // The honest client on another address registers and calls.
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const bobIn = await openStream(url, bob)
  t.equal((await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })).status, 201)
  t.equal((await bobIn.nextOf('incomingCall')).data.from, 'alice')
  bobIn.close()

  // A connection given back makes room again (the server sees the close a moment after the client).
  held[0].socket.destroy()
  await held[0].closed
  let answer = ''
  for (let attempt = 0; attempt < 50 && !answer.startsWith('HTTP/1.1 200'); attempt++) {
    answer = await exchange(url, 'GET /healthz HTTP/1.1\r\nHost: sigpost\r\nConnection: close\r\n\r\n', '127.0.0.2')
  }
  t.match(answer, /^HTTP\/1\.1 200 /, 'a freed slot admits the address again')
  for (const c of held) c.socket.destroy()
})

t.test('trusted proxies are exempt from the connection cap', async (t) => {
  const { url } = await startServer(t, { maxConnectionsPerIp: 2, trustProxy: ['127.0.0.3'] })
  const many = await Promise.all(Array.from({ length: 6 }, () => connect(url, '127.0.0.3')))
  for (const c of many) c.socket.write('GET /healthz HTTP/1.1\r\nHost: sigpost\r\nConnection: close\r\n\r\n')
  const answers = await Promise.all(many.map((c) => c.closed))
  t.same(answers.map((a) => parseResponse(a).status), [200, 200, 200, 200, 200, 200])
  const others = await Promise.all(Array.from({ length: 3 }, () => connect(url, '127.0.0.4')))
  t.equal(parseResponse(await (await connect(url, '127.0.0.4')).closed).status, 429, 'an untrusted address is still capped')
  for (const c of others) c.socket.destroy()
})

t.test('Fastify\'s own errors in the contract\'s shape, echoing no URL', async (t) => {
  const { url } = await startServer(t)
  const big = parseResponse(await exchange(url, `GET /healthz HTTP/1.1\r\nHost: sigpost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`))
  t.same([big.status, big.body.error], [431, 'headers_too_large'])
  t.match(big.body.message, /headers/)

  const badUrl = parseResponse(await exchange(url, 'GET /v1/%zz-secret-path HTTP/1.1\r\nHost: sigpost\r\nConnection: close\r\n\r\n'))
  t.same([badUrl.status, badUrl.body.error], [400, 'bad_request'])
  const percent = await request(url, 'GET', '/%')
  t.same([percent.status, percent.body.error], [400, 'bad_request'])

  const garbage = parseResponse(await exchange(url, 'NOT HTTP AT ALL\r\n\r\n'))
  t.same([garbage.status, garbage.body.error], [400, 'bad_request'])

  const missing = await request(url, 'GET', '/v1/nothing-secret?token=hunter2')
  t.same([missing.status, missing.body.error], [404, 'not_found'])
  for (const [what, body] of [['bad URL', badUrl.body], ['404', missing.body]] as const) {
    t.same(Object.keys(body).sort(), ['error', 'message'], `${what}: {error, message} only`)
    t.notMatch(JSON.stringify(body), /secret|hunter2|%zz/, `${what}: the URL is not echoed`)
  }
})

t.test('JSON nested deeper than 32 levels is 400 invalid_body before it is parsed; 32 levels and braces in strings pass', async (t) => {
  const { url, log } = await startServer(t, { captureLog: true })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  // The body is one level, sdpOffer another: 30 more levels inside it is 32 in all.
  const ok = await alice.post('/v1/calls', { to: 'bob', sdpOffer: { ...offer, extra: nested(30) }, note: '{'.repeat(100) + '['.repeat(100) })
  t.equal(ok.status, 201, 'exactly 32 levels, and brackets inside strings, are accepted')
  await alice.del(`/v1/calls/${ok.body.callId}`)
  const deep = await alice.post('/v1/calls', { to: 'bob', sdpOffer: { ...offer, extra: nested(31) } })
  t.same([deep.status, deep.body.error], [400, 'invalid_body'])
  t.match(deep.body.message, /deeper than 32/)
  const small = await request(url, 'POST', '/v1/sessions', { raw: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]', headers: { 'content-type': 'application/json' } })
  t.same([small.status, small.body.error], [400, 'invalid_body'], 'also a small body')
  const huge = await request(url, 'POST', '/v1/calls', { token: alice.token, raw: `{"to":"bob","sdpOffer":${'['.repeat(30_000)}${']'.repeat(30_000)}}`, headers: { 'content-type': 'application/json; charset=utf-8' } })
  t.same([huge.status, huge.body.error], [400, 'invalid_body'], 'a 30,000-deep sdpOffer')
  const poisoned = await request(url, 'POST', '/v1/sessions', { raw: '{"name":"carol","__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' } })
  t.same([poisoned.status, poisoned.body.error], [400, 'invalid_body'], 'prototype poisoning is still refused')
  t.notOk(log.some((line) => /RangeError|"level":50/.test(line)), 'no error logged')
  void bob
})

t.test('no token in the log, however the URL spells its parameter', async (t) => {
  for (const logRequests of ['all', 'errors'] as const) {
    const { url, log } = await startServer(t, { captureLog: true, logRequests })
    const alice = await register(url, 'alice')
    const secret = alice.token
    const spellings = [`%74oken=${secret}`, `TOKEN=${secret}`, `token=x&token=${secret}`, `to%6Ben=${secret}`, `token=${encodeURIComponent(secret)}`, `token%3D${secret}`, `x=1;token=${secret}`]
    for (const query of spellings) {
      const stream = new SseClient(url, { query })
      await stream.opened
      stream.close()
      await request(url, 'GET', `/v1/poll?wait=0&${query}`)
      await request(url, 'GET', `/v1/no-such-route?${query}`)
    }
    await exchange(url, `GET /v1/events%?token=${secret} HTTP/1.1\r\nHost: sigpost\r\nConnection: close\r\n\r\n`)
    await streamsClosed(url)
    t.ok(log.filter((line) => line.includes('"route":"(no route)"')).length >= spellings.length, `${logRequests}: the requests were logged`)
    t.notOk(log.some((line) => line.includes(secret) || line.includes(secret.slice(8, 24))), `${logRequests}: the token is in no line`)
  }
})

t.test('LOG_REQUESTS: errors (default) logs responses >= 400 only, all logs every request, none nothing', async (t) => {
  const counts: Record<string, { requests: string[]; registered: number; streamClosed: number }> = {}
  for (const logRequests of ['errors', 'all', 'none'] as const) {
    const { url, log } = await startServer(t, { captureLog: true, ...(logRequests === 'errors' ? {} : { logRequests }) })
    await request(url, 'GET', '/healthz')
    await request(url, 'GET', '/v1/nothing')
    const alice = await register(url, 'alice')
    const stream = await openStream(url, alice)
    stream.close()
    await streamsClosed(url)
    const lines = log.map((line) => JSON.parse(line))
    counts[logRequests] = {
      requests: lines.filter((l) => l.msg === 'request').map((l) => `${l.level} ${l.method} ${l.route} ${l.statusCode}`),
      registered: lines.filter((l) => l.msg === 'session registered').length,
      streamClosed: lines.filter((l) => l.msg === 'event stream closed').length,
    }
    t.notOk(lines.some((l) => l.msg === 'incoming request' || l.msg === 'request completed'), `${logRequests}: none of Fastify's own request lines`)
  }
  t.same(counts.errors, { requests: ['30 GET (no route) 404'], registered: 0, streamClosed: 0 })
  t.same(counts.none, { requests: [], registered: 0, streamClosed: 0 })
  t.same(counts.all.requests.slice(0, 3), ['30 GET /healthz 200', '30 GET (no route) 404', '30 POST /v1/sessions 201'])
  t.same([counts.all.registered, counts.all.streamClosed], [1, 1], 'all: a stream is logged when it ends')
})

t.test('security headers: helmet\'s set on pages, scripts and operations, nosniff on API answers with a body and on errors, a CSP with the inline scripts\' hashes on the demo page', async (t) => {
  const webRoot = mkdtempSync(join(tmpdir(), 'sigpost-web-'))
  t.teardown(() => rmSync(webRoot, { recursive: true, force: true }))
  const page = (script: string) => `<!doctype html><title>demo</title><script type="module" src="/rtc-call.js"></script>\n<script type="module">${script}</script>`
  writeFileSync(join(webRoot, 'index.html'), page('console.log("one")'))
  writeFileSync(join(webRoot, 'rtc-call.js'), 'export {}')
  const { url } = await startServer(t, { webRoot })
  const sha = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

  for (const path of ['/', '/rtc-call.js', '/healthz', '/v1/nothing']) {
    const res = await fetch(url + path, { headers: { origin: 'https://shop.example' } })
    t.equal(res.headers.get('x-content-type-options'), 'nosniff', `${path}: nosniff`)
    t.equal(res.headers.get('referrer-policy'), 'no-referrer', `${path}: no referrer`)
    t.equal(res.headers.get('strict-transport-security'), null, `${path}: no HSTS on plain HTTP`)
    // No Cross-Origin-Resource-Policy at all: same-site would block other sites as surely as same-origin.
    t.equal(res.headers.get('cross-origin-resource-policy'), null, `${path}: loadable from other origins`)
    t.equal(res.headers.get('access-control-allow-origin'), '*', `${path}: CORS`)
    if (path === '/') t.match(res.headers.get('content-security-policy'), /^default-src/, '/: a CSP')
    else t.equal(res.headers.get('content-security-policy'), null, `${path}: no CSP (not a page)`)
    await res.arrayBuffer()
  }
  // The API: nosniff on every answer with a body, none of the document policies; a 202 has nothing to sniff.
  const alice = await request(url, 'POST', '/v1/sessions', { body: { name: 'hdr-alice' } })
  const bob = await request(url, 'POST', '/v1/sessions', { body: { name: 'hdr-bob' } })
  t.equal(alice.headers.get('x-content-type-options'), 'nosniff', 'a JSON answer of the API: nosniff')
  t.equal(alice.headers.get('x-frame-options'), null, 'a JSON answer of the API: no frame policy (not a document)')
  const call = await request(url, 'POST', '/v1/calls', { token: alice.body.token, body: { to: 'hdr-bob', sdpOffer: offer } })
  t.equal(call.status, 201)
  const candidate = await request(url, 'POST', `/v1/calls/${call.body.callId}/candidates`, { token: alice.body.token, body: { candidate: null } })
  t.same([candidate.status, candidate.headers.get('x-content-type-options')], [202, null], 'a 202 without a body: no headers to protect it')
  t.equal(candidate.headers.get('access-control-allow-origin'), '*', 'CORS still on the 202')
  const refused = await request(url, 'POST', `/v1/calls/${call.body.callId}/candidates`, { token: bob.body.token, body: { nonsense: 1 } })
  t.same([refused.status, refused.headers.get('x-content-type-options'), refused.headers.get('referrer-policy')], [400, 'nosniff', 'no-referrer'], 'an API error: nosniff, no referrer')

  const csp = (await fetch(`${url}/`)).headers.get('content-security-policy') ?? ''
  t.match(csp, /default-src 'self'/)
  t.match(csp, /object-src 'none'/)
  t.ok(csp.includes(`script-src 'self' ${sha('console.log("one")')}`), 'the inline script is allowed by its hash')
  t.notMatch(csp, /unsafe-inline[^;]*;.*script|script-src[^;]*unsafe/, 'no unsafe script source')

  // The page changes while the server runs (a rebuild): the policy follows it.
  writeFileSync(join(webRoot, 'index.html'), page('console.log("two")\r\n'))
  const again = (await fetch(`${url}/`)).headers.get('content-security-policy') ?? ''
  t.ok(again.includes(sha('console.log("two")\n')), 'the new script\'s hash, with the line ending a browser sees')
  t.notOk(again.includes(sha('console.log("one")')), 'the old one is gone')
  t.equal((await fetch(`${url}/docs`, { redirect: 'follow' })).status, 200, '/docs still served')
})

t.test('METRICS_TOKEN: /metrics needs the bearer token when set', async (t) => {
  const { url } = await startServer(t, { metricsToken: 'metrics-secret-1' })
  const none = await request(url, 'GET', '/metrics')
  t.same([none.status, none.body.error], [401, 'unauthorized'])
  t.same((await request(url, 'GET', '/metrics', { token: 'metrics-secret-2' })).status, 401)
  t.same((await request(url, 'GET', '/metrics', { token: 'metrics-secret-1x' })).status, 401)
  const ok = await request(url, 'GET', '/metrics', { token: 'metrics-secret-1' })
  t.equal(ok.status, 200)
  t.match(ok.body, /^sigpost_sessions 0$/m)
  t.equal((await request(url, 'GET', '/healthz')).status, 200, 'the other operations stay open')
})
