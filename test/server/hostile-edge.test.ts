/**
 * Hostile clients, second round, at the edge (docs/operations.md "Limits and abuse"): what a client can
 * no longer do before its request reaches a store. Logs name routes, never raw paths.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { buildApp } from '../../server/app.js'
import { addressKey, isLoopback } from '../../server/edge/address.js'
import { RefusalBudget } from '../../server/edge/refusals.js'
import { startServer } from '../helpers/server.js'
import { offer, openStream, register, request } from '../helpers/client.js'
import { within } from '../helpers/wait.js'

/** A request from a chosen loopback address (127.0.0.x stand for distinct clients). */
function requestFrom(url: string, method: string, path: string, localAddress: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, localAddress, headers, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** What a raw client saw: everything the server wrote, and how its connection ended. */
interface Seen {
  text: string
  error: string
}

/**
 * Sends a 2 MB JSON body to POST /v1/sessions from a raw socket. `expect`: with `Expect: 100-continue`;
 * `eager`: the body follows the headers at once (as curl does after its wait), otherwise only after a
 * `100 Continue`; `chunked`: no Content-Length. Resolves once the server has closed the connection.
 */
function bigBody(url: string, mode: { expect: boolean; eager: boolean; chunked?: boolean }): Promise<Seen> {
  const { hostname, port } = new URL(url)
  const body = Buffer.alloc(2 * 1024 * 1024, 'a')
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) })
    let text = ''
    let error = ''
    let sent = false
    const send = (): void => {
      sent = true
      if (!mode.chunked) return void socket.write(body)
      for (let at = 0; at < body.length; at += 256 * 1024) socket.write(`${(256 * 1024).toString(16)}\r\n${body.subarray(at, at + 256 * 1024)}\r\n`)
      socket.write('0\r\n\r\n')
    }
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      text += chunk
      if (!sent && text.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) send()
    })
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message))
    socket.on('close', () => resolve({ text, error }))
    const length = mode.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`
    socket.write(`POST /v1/sessions HTTP/1.1\r\nHost: sigpost\r\nContent-Type: application/json\r\n${length}\r\n${mode.expect ? 'Expect: 100-continue\r\n' : ''}\r\n`)
    if (mode.eager) send()
  })
}

t.test('logs name routes by their template: a token sent as a path segment never reaches the log', async (t) => {
  for (const logRequests of ['all', 'errors'] as const) {
    const { url, log } = await startServer(t, { captureLog: true, logRequests })
    const alice = await register(url, 'alice')
    const secret = alice.token
    const asCall = await request(url, 'GET', `/v1/calls/${secret}`, { token: alice.token })
    t.equal(asCall.status, 404, 'no such call')
    await request(url, 'GET', `/v1/calls/${secret}/nothing`)
    await request(url, 'POST', `/v1/calls/${secret}/accept`, { token: 'bogus', body: {} })
    await request(url, 'GET', `/${secret}`)
    const lines = log.map((line) => JSON.parse(line)).filter((line) => line.msg === 'request')
    t.ok(lines.some((line) => line.route === '/v1/calls/:callId' && line.statusCode === 404), `${logRequests}: the call lookup is logged by its template`)
    t.ok(lines.some((line) => line.route === '/v1/calls/:callId/accept' && line.statusCode === 401), `${logRequests}: so is the refused accept`)
    t.notOk(lines.some((line) => 'url' in line), `${logRequests}: no line carries the raw URL`)
    t.notOk(log.some((line) => line.includes(secret) || line.includes(secret.slice(8, 24))), `${logRequests}: the token is in no line`)
  }
})

t.test('a body too large: 413 before 100 Continue when Content-Length says so, otherwise after reading the rest; every client sees it', async (t) => {
  const { url } = await startServer(t, { rateRegisterPerWindow: 1_000_000 })
  const modes = {
    'Expect, body sent at once': { expect: true, eager: true },
    'Expect, body only after 100': { expect: true, eager: false },
    'no Expect': { expect: false, eager: true },
    'Expect, chunked': { expect: true, eager: false, chunked: true },
  }
  const seen: Record<string, string[]> = {}
  for (const [what, mode] of Object.entries(modes)) {
    for (let round = 0; round < 5; round++) {
      const batch = await within(Promise.all(Array.from({ length: 8 }, () => bigBody(url, mode))), `${what}: 8 clients`)
      for (const { text, error } of batch) {
        const first = text.slice(0, text.indexOf('\r\n'))
        const outcome = `${first}${error ? ` (${error})` : ''}`
        ;(seen[what] ??= []).push(outcome)
      }
    }
  }
  for (const what of ['Expect, body sent at once', 'Expect, body only after 100', 'no Expect']) {
    t.same([...new Set(seen[what])], ['HTTP/1.1 413 Payload Too Large'], `${what}: all 40 clients read the 413 first, none a reset`)
  }
  t.same([...new Set(seen['Expect, chunked'])], ['HTTP/1.1 100 Continue'], 'chunked: 100 Continue (no length to judge by), then ...')
  const chunked = await bigBody(url, modes['Expect, chunked'])
  t.match(chunked.text, /\r\n\r\nHTTP\/1\.1 413 Payload Too Large\r\n/, '... the 413 once the limit is passed')
  t.equal(chunked.error, '', 'and no reset')

  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const bobIn = await openStream(url, bob)
  t.equal((await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })).status, 201, 'an honest call still connects')
  t.equal((await bobIn.nextOf('incomingCall')).data.from, 'alice')
  bobIn.close()
})

t.test('/metrics open on a non-loopback address logs a warning at start; not on loopback, nor with METRICS_TOKEN', async (t) => {
  t.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('::ffff:127.0.0.2'))
  t.notOk(isLoopback('0.0.0.0') || isLoopback('::') || isLoopback('10.1.2.3') || isLoopback('2001:db8::1'))
  const warned: Record<string, boolean> = {}
  // Listening on every interface only to be closed again: no traffic leaves loopback.
  for (const [what, host, options] of [['all interfaces', '0.0.0.0', {}], ['loopback', '127.0.0.1', {}], ['all interfaces with METRICS_TOKEN', '0.0.0.0', { metricsToken: 'scraper-secret' }]] as const) {
    const log: string[] = []
    const app = await buildApp({ ...options, logger: { level: 'info', stream: new Writable({ write(chunk, _enc, done) { log.push(String(chunk)); done() } }) } })
    await app.listen({ port: 0, host })
    await app.close()
    warned[what] = log.some((line) => line.includes('/metrics is open on a non-loopback address') && /"level":40/.test(line))
  }
  t.same(warned, { 'all interfaces': true, loopback: false, 'all interfaces with METRICS_TOKEN': false })
})

t.test('source maps are served only with SERVE_SOURCE_MAPS=true', async (t) => {
  const webRoot = mkdtempSync(join(tmpdir(), 'sigpost-web-'))
  t.teardown(() => rmSync(webRoot, { recursive: true, force: true }))
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>demo</title>')
  writeFileSync(join(webRoot, 'rtc-call.js'), 'export {}\n//# sourceMappingURL=rtc-call.js.map\n')
  writeFileSync(join(webRoot, 'rtc-call.js.map'), '{"version":3,"sources":["secret-source.ts"]}')
  const off = await startServer(t, { webRoot })
  const hidden = await request(off.url, 'GET', '/rtc-call.js.map')
  t.same([hidden.status, hidden.body.error], [404, 'not_found'], 'by default a source map is not found')
  t.equal((await request(off.url, 'GET', '/rtc-call.js')).status, 200, 'the script itself is served')
  const on = await startServer(t, { webRoot, serveSourceMaps: 'on' })
  const shown = await request(on.url, 'GET', '/rtc-call.js.map')
  t.equal(shown.status, 200, 'SERVE_SOURCE_MAPS=true serves it')
  t.match(shown.body.sources, ['secret-source.ts'])
})

t.test('per-address limits count an IPv6 client by its /64', async (t) => {
  t.equal(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64')
  t.equal(addressKey('2001:0db8:0001:0002::1'), '2001:db8:1:2::/64', 'leading zeros')
  t.equal(addressKey('2001:DB8:1:2::ffff'), '2001:db8:1:2::/64', 'upper case')
  t.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64', 'a gap inside the prefix')
  t.equal(addressKey('2001:db8:1:2:3::'), '2001:db8:1:2::/64', 'a gap at the end')
  t.equal(addressKey('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64', 'an embedded IPv4 tail')
  t.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64', 'a zone')
  t.equal(addressKey('::1'), '0:0:0:0::/64')
  t.not(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'), 'another /64 is another client')
  t.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7', 'an IPv4-mapped address is its IPv4 address')
  t.equal(addressKey('192.0.2.7'), '192.0.2.7')

  // The real path: IPv6 clients behind a trusted loopback proxy (X-Forwarded-For).
  const behind = (url: string, ip: string, name: string) => request(url, 'POST', '/v1/sessions', { body: { name }, headers: { 'x-forwarded-for': ip } })
  const rated = await startServer(t, { rateRegisterPerWindow: 2, trustProxy: ['127.0.0.1'] })
  t.equal((await behind(rated.url, '2001:db8:1:2::a', 'a')).status, 201)
  t.equal((await behind(rated.url, '2001:db8:1:2:ffff:1:2:3', 'b')).status, 201)
  const third = await behind(rated.url, '2001:db8:1:2::c', 'c')
  t.same([third.status, third.body.error], [429, 'rate_limited'], 'registrations: two addresses of one /64 share a bucket')
  t.equal((await behind(rated.url, '2001:db8:1:3::a', 'd')).status, 201, 'the next /64 has its own')

  const capped = await startServer(t, { maxSessionsPerIp: 2, trustProxy: ['127.0.0.1'] })
  t.equal((await behind(capped.url, '2001:db8:5:6::1', 'a')).status, 201)
  t.equal((await behind(capped.url, '2001:db8:5:6::2', 'b')).status, 201)
  const over = await behind(capped.url, '2001:db8:5:6:7::3', 'c')
  t.same([over.status, over.body.error], [429, 'rate_limited'], 'live sessions: one /64 holds MAX_SESSIONS_PER_IP')
  t.equal((await behind(capped.url, '2001:db8:5:7::1', 'd')).status, 201, 'another /64 registers')
  t.equal((await behind(capped.url, '192.0.2.1', 'e')).status, 201, 'an IPv4 client too')
})

t.test('refused requests are limited per address before any other work, and logged once a minute with a count', async (t) => {
  const { url, log } = await startServer(t, { rateUnauthenticatedPerWindow: 20, captureLog: true })
  const alice = await register(url, 'alice')
  const statuses: number[] = []
  for (let i = 0; i < 30; i++) {
    statuses.push((await requestFrom(url, 'GET', '/v1/calls/some-call', '127.0.0.2', { authorization: `Bearer bogus-${i}` })).status)
  }
  t.same(statuses, [...Array(21).fill(401), ...Array(9).fill(429)], 'a bogus-Bearer flood: 401 up to the budget, then 429')
  const held = await requestFrom(url, 'GET', '/v1/calls/some-call', '127.0.0.2', { authorization: `Bearer ${alice.token}` })
  t.same([held.status, held.body.error], [429, 'rate_limited'], 'then every request of that address, a valid token too')
  t.match(held.headers['retry-after'], /^\d+$/)
  t.ok(Number(held.headers['retry-after']) > 0 && Number(held.headers['retry-after']) <= 60, 'until the window ends')

  const lines = log.map((line) => JSON.parse(line)).filter((line) => line.msg === 'request' && line.remoteAddress === '127.0.0.2')
  t.equal(lines.length, 1, 'one line for 31 refusals of one address')
  t.same([lines[0].statusCode, lines[0].refusals, lines[0].route], [401, 1, '/v1/calls/:callId'])

  // An honest caller on another address is untouched.
  const bob = await register(url, 'bob')
  const bobIn = await openStream(url, bob)
  t.equal((await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })).status, 201, 'an honest call connects')
  t.equal((await bobIn.nextOf('incomingCall')).data.from, 'alice')
  bobIn.close()
})

t.test('the refusal budget: a fixed window per address; a log line per minute stands for the refusals not logged', async (t) => {
  const budget = new RefusalBudget(3, 10_000)
  t.same([0, 1, 2].map((at) => budget.refused('a', at)), [1, null, null], 'the first refusal is logged, the next ones counted')
  t.equal(budget.blockedFor('a', 4), 0, 'three refusals: within the budget')
  t.equal(budget.refused('a', 5), null)
  t.equal(budget.blockedFor('a', 6), 10, 'the fourth: blocked until the window ends')
  t.equal(budget.blockedFor('b', 6), 0, 'another address is not')
  t.equal(budget.blockedFor('a', 10_000), 0, 'a new window')
  t.equal(budget.refused('a', 59_999), null, 'still within the log minute')
  t.equal(budget.refused('a', 60_000), 5, 'the next line stands for itself and the four not logged')
  t.equal(budget.refused('a', 60_001), null)
})
