/**
 * Hostile clients, second round, over HTTP/2 (TLS with a self-signed certificate made here by openssl):
 * at most HTTP2_MAX_STREAMS (128) streams per connection, a 16 KiB header list, and at most
 * MAX_PROBES_PER_SESSION (2) probe streams per session at once; an honest call still connects.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import http2 from 'node:http2'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { offer } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'
import { until, within } from '../helpers/wait.js'
import { h2 } from '../helpers/h2.js'

const dir = mkdtempSync(join(tmpdir(), 'sigpost-h2-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
const tls = { tlsCertFile: join(dir, 'cert.pem'), tlsKeyFile: join(dir, 'key.pem') }

function connect(t: { teardown(fn: () => unknown): void }, url: string): http2.ClientHttp2Session {
  const session = http2.connect(url, { rejectUnauthorized: false })
  session.on('error', () => {})
  t.teardown(() => session.destroy())
  return session
}

/** Opens a probe stream; `answered` resolves with its status once the server answers its headers. */
function probe(session: http2.ClientHttp2Session, token: string) {
  const req = session.request({ ':path': '/v1/events?probe=1', authorization: `Bearer ${token}`, accept: 'text/event-stream' })
  req.on('error', () => {})
  const answered = new Promise<number>((resolve) => {
    req.on('response', (headers) => resolve(Number(headers[':status'])))
    req.on('close', () => resolve(0))
  })
  return { req, answered }
}

t.test('HTTP/2: at most 128 concurrent streams per connection; more wait until one ends', async (t) => {
  const { url } = await startServer(t, { ...tls, rateRegisterPerWindow: 1000 })
  const session = connect(t, url)
  const tokens: string[] = []
  for (let i = 0; i < 65; i++) tokens.push((await h2(session, 'POST', '/v1/sessions', { body: { name: `user-${i}` } })).body.token)
  t.equal(session.remoteSettings.maxConcurrentStreams, 128, 'the server announces 128')
  const streams = tokens.flatMap((token) => [probe(session, token), probe(session, token)])
  let answered = 0
  for (const stream of streams) void stream.answered.then((status) => status === 200 && answered++)
  await until(() => answered >= 128, '128 streams answered')
  // The last two wait for room: none is answered while 128 are open.
  const waiting = streams.filter((_stream, i) => i >= 128)
  // A round trip after those: nothing more is answered while 128 are open.
  await new Promise((resolve) => session.ping(resolve))
  t.equal(answered, 128, 'the 129th and 130th streams wait while 128 are open')
  streams[0].req.close()
  t.equal(await within(waiting[0].answered, 'the 129th stream once one closed'), 200, 'one ended, the next is answered')
  t.equal(answered, 129)
  for (const stream of streams) stream.req.close()

  // An honest call on another connection.
  const other = connect(t, url)
  const alice = (await h2(other, 'POST', '/v1/sessions', { body: { name: 'alice' } })).body.token
  await h2(other, 'POST', '/v1/sessions', { body: { name: 'bob' } })
  t.equal((await h2(other, 'POST', '/v1/calls', { token: alice, body: { to: 'bob', sdpOffer: offer } })).status, 201, 'an honest call connects')
})

t.test('HTTP/2: a header list over 16 KiB is refused, as over HTTP/1.1', async (t) => {
  const { url } = await startServer(t, tls)
  const session = connect(t, url)
  t.equal(session.remoteSettings.maxHeaderListSize ?? (await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve))).maxHeaderListSize, 16 * 1024)
  t.equal((await h2(session, 'GET', '/healthz', { headers: { 'x-fill': 'a'.repeat(8 * 1024) } })).status, 200, '8 KiB of headers pass')
  const big = await h2(session, 'GET', '/healthz', { headers: { 'x-fill': 'a'.repeat(20 * 1024) } })
  t.not(big.status, 200, '20 KiB of headers do not')
  t.equal(big.rstCode, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 'the stream is reset by the server')
  const raised = await startServer(t, { ...tls, http2MaxHeaderListBytes: 64 * 1024 })
  t.equal((await h2(connect(t, raised.url), 'GET', '/healthz', { headers: { 'x-fill': 'a'.repeat(20 * 1024) } })).status, 200, 'HTTP2_MAX_HEADER_LIST_BYTES raises it')
})

t.test('at most two probe streams per session at once: 429 rate_limited; a closed one makes room', async (t) => {
  const { url } = await startServer(t, tls)
  const session = connect(t, url)
  const token = (await h2(session, 'POST', '/v1/sessions', { body: { name: 'prober' } })).body.token
  const first = probe(session, token)
  const second = probe(session, token)
  t.same([await first.answered, await second.answered], [200, 200])
  const third = await h2(session, 'GET', '/v1/events?probe=1', { token })
  t.same([third.status, third.body.error], [429, 'rate_limited'], 'a third at once is refused')
  const otherToken = (await h2(session, 'POST', '/v1/sessions', { body: { name: 'other' } })).body.token
  const others = probe(session, otherToken)
  t.equal(await others.answered, 200, 'another session has its own two')
  first.req.close()
  let again = probe(session, token)
  // The server sees the close a moment after the client: retry until it has.
  await until(async () => {
    if ((await again.answered) === 200) return true
    again = probe(session, token)
    return false
  }, 'a probe admitted after one closed')
  t.pass('a closed probe makes room for another')
  for (const p of [second, others, again]) p.req.close()
})
