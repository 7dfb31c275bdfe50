/**
 * HTTPS and HTTP/2 from the server itself (TLS_CERT_FILE, TLS_KEY_FILE), with a self-signed certificate
 * made here by openssl in a temp dir that is removed: HTTP/1.1 is still negotiated through ALPN, the SSE
 * writer works over HTTP/2 streams (ready, heartbeats, events, probe, one stream replacing another on the
 * same connection) and over TLS sockets, and app.close() returns promptly with HTTP/2 streams open.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import https from 'node:https'
import http2 from 'node:http2'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildApp } from '../../server/app.js'
import { offer } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'
import { h2 } from '../helpers/h2.js'

const dir = mkdtempSync(join(tmpdir(), 'sigpost-tls-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
const tls = { tlsCertFile: join(dir, 'cert.pem'), tlsKeyFile: join(dir, 'key.pem') }

/** An SSE stream over an HTTP/2 stream: its events (named), as they arrive. */
function h2Stream(session: http2.ClientHttp2Session, path: string, token: string) {
  const req = session.request({ ':path': path, authorization: `Bearer ${token}`, accept: 'text/event-stream' })
  const events: Array<{ event: string; id?: string; data: any }> = []
  const headers = new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve))
  let buffer = ''
  let wake: (() => void) | undefined
  // 'end' comes only with the server's END_STREAM (a response that finished), not with a reset.
  let endedByServer = false
  req.on('end', () => (endedByServer = true))
  const ended = new Promise<void>((resolve) => req.on('close', () => {
    resolve()
    wake?.()
  }))
  req.setEncoding('utf8')
  req.on('data', (chunk: string) => {
    buffer += chunk
    let index: number
    while ((index = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, index)
      buffer = buffer.slice(index + 2)
      const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]))
      if (fields.event) events.push({ event: fields.event, id: fields.id, data: fields.data ? JSON.parse(fields.data) : undefined })
    }
    wake?.()
  })
  return {
    headers,
    events,
    ended,
    get endedByServer() { return endedByServer },
    /** Resolves once an event of `type` has arrived (the n-th, counted from the start). */
    async until(type: string, n = 1) {
      while (events.filter((e) => e.event === type).length < n) {
        if (req.closed) throw new Error(`stream closed before ${n} × ${type}`)
        await new Promise<void>((resolve) => (wake = resolve))
      }
    },
    close: () => req.close(),
  }
}

t.test('HTTP/1.1 over TLS is still offered through ALPN, and its SSE stream works', async (t) => {
  const { url } = await startServer(t, { logger: false, ...tls })
  t.match(url, /^https:\/\//)
  const agent = new https.Agent({ rejectUnauthorized: false })
  t.teardown(() => agent.destroy())
  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; version: string; text: () => Promise<string>; res: import('node:http').IncomingMessage }>((resolve, reject) => {
      https.get(`${url}${path}`, { agent, headers }, (res) => {
        resolve({
          status: res.statusCode ?? 0,
          version: res.httpVersion,
          res,
          text: () => new Promise((done) => {
            let body = ''
            res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => done(body))
          }),
        })
      }).on('error', reject)
    })
  const health = await get('/healthz')
  t.equal(health.status, 200)
  t.equal(health.version, '1.1', 'an HTTP/1.1-only client gets HTTP/1.1')
  await health.text()

  const created = await new Promise<any>((resolve, reject) => {
    const req = https.request(`${url}/v1/sessions`, { agent, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => resolve(JSON.parse(body)))
    })
    req.on('error', reject)
    req.end(JSON.stringify({ name: 'tls-one' }))
  })
  const stream = await get('/v1/events', { authorization: `Bearer ${created.token}` })
  t.equal(stream.status, 200)
  t.match(stream.res.headers['content-type'], /^text\/event-stream/)
  let text = ''
  await new Promise<void>((resolve) => stream.res.setEncoding('utf8').on('data', (c: string) => {
    text += c
    if (text.includes('event: heartbeat')) resolve()
  }))
  t.match(text, /event: ready\ndata: {"name":"tls-one"}/, 'ready over TLS')
  t.match(text, /event: heartbeat\ndata: {}/, 'and a heartbeat')
  stream.res.destroy()
})

t.test('HTTP/2: streams, events, a probe and a replacement on one connection; app.close() is prompt', async (t) => {
  const app = await buildApp({ logger: false, heartbeatMs: 200, ...tls })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  let closed = false
  t.teardown(() => (closed ? undefined : app.close()))
  const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false })
  t.teardown(() => session.destroy())
  session.on('error', () => {})

  const alice = await h2(session, 'POST', '/v1/sessions', { body: { name: 'alice' } })
  const bob = await h2(session, 'POST', '/v1/sessions', { body: { name: 'bob' } })
  t.equal(alice.status, 201, 'registered over HTTP/2')
  const stream = h2Stream(session, '/v1/events', bob.body.token)
  const headers = await stream.headers
  t.equal(headers[':status'], 200)
  t.match(headers['content-type'], /^text\/event-stream/)
  t.equal(headers['x-accel-buffering'], 'no')
  t.notOk(headers.connection ?? headers['transfer-encoding'], 'no connection-specific header (forbidden in HTTP/2)')
  await stream.until('heartbeat', 2)
  t.same(stream.events[0], { event: 'ready', id: undefined, data: { name: 'bob' } })

  const probe = h2Stream(session, '/v1/events?probe=1', bob.body.token)
  await probe.until('heartbeat')
  const call = await h2(session, 'POST', '/v1/calls', { token: alice.body.token, body: { to: 'bob', sdpOffer: offer } })
  t.equal(call.status, 201)
  await stream.until('incomingCall')
  t.match(stream.events.find((e) => e.event === 'incomingCall')!.id, /^\d+$/)
  t.notOk(probe.events.some((e) => e.event === 'incomingCall'), 'the probe gets no session event')
  probe.close()

  // A newer stream of bob's session on the same connection replaces the older one, which ends alone.
  const newer = h2Stream(session, '/v1/events', bob.body.token)
  await stream.until('replaced')
  await stream.ended
  await newer.until('incomingCall')
  t.notOk(session.closed, 'ending one stream leaves the connection (and every other stream on it) open')
  t.equal((await h2(session, 'GET', '/healthz')).status, 200)

  const started = Date.now()
  await app.close()
  closed = true
  await newer.ended
  t.ok(newer.endedByServer, `app.close() returned with an HTTP/2 stream open (${Date.now() - started} ms) and ended it (END_STREAM, not a reset)`)
})
