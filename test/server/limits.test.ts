import net from 'node:net'
import t from 'tap'
import { startServer } from '../helpers/server.js'
import { offer, register, request } from '../helpers/client.js'

t.test('client mistakes get their codes and the server stays up', async (t) => {
  const { url, log } = await startServer(t, { captureLog: true })
  const alice = await register(url, 'alice')
  await register(url, 'bob')
  const cases: Array<[string, Promise<any>, number, string]> = [
    ['malformed JSON', request(url, 'POST', '/v1/sessions', { raw: '{"name": "x",', headers: { 'content-type': 'application/json' } }), 400, 'invalid_body'],
    ['empty JSON body', request(url, 'POST', '/v1/sessions', { raw: '', headers: { 'content-type': 'application/json' } }), 400, 'invalid_body'],
    ['JSON null', request(url, 'POST', '/v1/sessions', { raw: 'null', headers: { 'content-type': 'application/json' } }), 400, 'invalid_body'],
    ['no body at all', request(url, 'POST', '/v1/sessions'), 400, 'invalid_body'],
    ['wrong type', request(url, 'POST', '/v1/calls', { token: alice.token, body: { to: 'bob', sdpOffer: { type: 'offer', sdp: 5 } } }), 400, 'invalid_body'],
    ['text/plain', request(url, 'POST', '/v1/sessions', { raw: '{"name":"x"}', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type'],
    ['form', request(url, 'POST', '/v1/sessions', { raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported_media_type'],
    ['huge body', request(url, 'POST', '/v1/calls', { token: alice.token, body: { to: 'bob', sdpOffer: { type: 'offer', sdp: 'x'.repeat(70 * 1024) } } }), 413, 'body_too_large'],
    ['unknown route', request(url, 'GET', '/v1/nothing'), 404, 'not_found'],
    ['unknown method', request(url, 'PUT', '/v1/sessions', { body: {} }), 404, 'not_found'],
    ['bad bearer', request(url, 'POST', '/v1/calls', { headers: { authorization: 'Basic abc' }, body: { to: 'bob', sdpOffer: offer } }), 401, 'unauthorized'],
    ['prototype pollution', request(url, 'POST', '/v1/sessions', { raw: '{"__proto__": {"x": 1}, "name": "p"}', headers: { 'content-type': 'application/json' } }), 400, 'invalid_body'],
  ]
  for (const [what, pending, status, error] of cases) {
    const res = await pending
    t.equal(res.status, status, what)
    t.equal(res.body?.error, error, what)
    t.type(res.body?.message, 'string', `${what}: a sentence`)
    t.notMatch(JSON.stringify(res.body), /at .*\.(ts|js):\d+/, `${what}: no stack trace`)
  }
  t.equal((await request(url, 'GET', '/healthz')).status, 200, 'still up')
  t.notOk(log.some((line) => /"level":50/.test(line)), 'no client mistake is logged as a server error')
})

t.test('raw garbage on the socket does not take the server down', async (t) => {
  const { url } = await startServer(t)
  const port = Number(new URL(url).port)
  await new Promise<void>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end('GARBAGE / HTTP/9.9\r\n\r\n\0\0\0'))
    socket.on('close', () => resolve())
    socket.on('error', () => resolve())
    socket.resume()
  })
  t.equal((await request(url, 'GET', '/healthz')).status, 200)
})

t.test('429 rate_limited with Retry-After on registration (per IP) and on sends (per session)', async (t) => {
  const { url } = await startServer(t, { rateRegisterPerWindow: 3, rateSendPerWindow: 2 })
  const alice = await register(url, 'alice')
  await register(url, 'bob')
  await register(url, 'carol')
  const limited = await request(url, 'POST', '/v1/sessions', { body: { name: 'dave' } })
  t.equal(limited.status, 429)
  t.equal(limited.body.error, 'rate_limited')
  t.match(limited.headers.get('retry-after'), /^\d+$/)
  t.equal((await request(url, 'GET', '/v1/sessions', { token: alice.token })).status, 200, 'reads are not sends')
  const first = await alice.post('/v1/calls', { to: 'nobody', sdpOffer: offer })
  t.equal(first.status, 404)
  await alice.post('/v1/calls', { to: 'nobody', sdpOffer: offer })
  const third = await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })
  t.equal(third.status, 429)
  t.equal(third.body.error, 'rate_limited')
  t.match(third.headers.get('retry-after'), /^\d+$/)
})

t.test('429 rate_limited on reads per session and route (RATE_READ_PER_WINDOW); a path parameter over 100 characters is 414', async (t) => {
  const { url } = await startServer(t, { rateReadPerWindow: 3 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const callId = (await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })).body.callId
  for (let i = 0; i < 3; i++) t.equal((await alice.get(`/v1/calls/${callId}`)).status, 200, `read ${i + 1} of 3`)
  const limited = await alice.get(`/v1/calls/${callId}`)
  t.same([limited.status, limited.body.error], [429, 'rate_limited'])
  t.match(limited.headers.get('retry-after'), /^\d+$/)
  t.equal((await alice.get('/v1/ice-servers')).status, 200, 'another route has its own budget')
  t.equal((await bob.get(`/v1/calls/${callId}`)).status, 200, 'another session has its own budget')
  t.equal((await alice.post(`/v1/calls/${callId}/candidates`, { candidate: null })).status, 202, 'sends are not reads')

  const long = await bob.post(`/v1/calls/${'x'.repeat(101)}/accept`, { sdpAnswer: offer })
  t.same([long.status, long.body.error], [414, 'url_too_long'])
  t.equal((await bob.get(`/v1/calls/${'x'.repeat(100)}`)).body.error, 'call_not_found', '100 characters are a call id to look up')
  // A parameter that ends the path: the router falls back to the demo page's `/*`, which answers it as the API would.
  const longLast = await bob.get(`/v1/calls/${'x'.repeat(101)}`)
  t.same([longLast.status, longLast.body.error], [414, 'url_too_long'], 'GET /v1/calls/<101 characters>')
})

t.test('per-IP limits see the user behind a trusted proxy, and only behind one', async (t) => {
  const { url } = await startServer(t, { rateRegisterPerWindow: 1, trustProxy: ['127.0.0.1'] })
  const behind = (ip: string, name: string) => request(url, 'POST', '/v1/sessions', { body: { name }, headers: { 'x-forwarded-for': ip } })
  t.equal((await behind('203.0.113.1', 'a')).status, 201)
  t.equal((await behind('203.0.113.2', 'b')).status, 201, 'another user behind the same proxy has a limit of its own')
  t.equal((await behind('203.0.113.1', 'c')).status, 429)
  const direct = await startServer(t, { rateRegisterPerWindow: 1 })
  t.equal((await request(direct.url, 'POST', '/v1/sessions', { body: { name: 'a' }, headers: { 'x-forwarded-for': '203.0.113.1' } })).status, 201)
  t.equal((await request(direct.url, 'POST', '/v1/sessions', { body: { name: 'b' }, headers: { 'x-forwarded-for': '203.0.113.2' } })).status, 429, 'without TRUST_PROXY a client cannot pick its own key')
})
