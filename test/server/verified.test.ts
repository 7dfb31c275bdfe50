/**
 * Verified names: JWTs from an application backend, checked against a JWKS served by a real HTTP server
 * (RS256 and ES256 keys generated here, rotated during the test) or an HS256 secret; take-over by the
 * verified owner, sigpost_may_call, the directory switch, TURN credentials only for sessions.
 */
import { createHmac } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { buildApp } from '../../server/app.js'
import { startServer } from '../helpers/server.js'
import { until } from '../helpers/wait.js'
import { freePort } from '../helpers/redis.js'
import { mint, mintHs256, newKey, startJwks } from '../helpers/jwks.js'
import { offer, peer, poll, request, SseClient } from '../helpers/client.js'

const ISSUER = 'https://app.example'
const AUDIENCE = 'sigpost'
const rsa = await newKey('RS256', 'rsa-1')
const ec = await newKey('ES256', 'ec-1')
const ed = await newKey('EdDSA', 'ed-1')

/** POST /v1/sessions with a JWT; resolves with the response. */
function registerWith(url: string, jwt: string | undefined, body: unknown = {}) {
  return request(url, 'POST', '/v1/sessions', { body, headers: jwt ? { authorization: `Bearer ${jwt}` } : {} })
}

/** Waits for a condition that depends on a server-side timer (a cool-down); never a fixed sleep. */
async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  await until(check, 'the cool-down to pass', { everyMs: 50 })
}

t.test('JWKS (RS256, ES256, EdDSA): the JWT names the session; a body name must equal it', async (t) => {
  const jwks = await startJwks(t, [rsa, ec, ed])
  const { url } = await startServer(t, { authJwksUrl: jwks.url, authIssuer: ISSUER, authAudience: AUDIENCE })
  const alice = await registerWith(url, await mint(rsa, { sub: 'alice', iss: ISSUER, aud: AUDIENCE }))
  t.equal(alice.status, 201)
  t.equal(alice.body.name, 'alice', 'the name comes from the claim; the body has none')
  t.match(alice.body.token, /^[A-Za-z0-9_-]{43}$/, 'a session token, not the JWT')
  const bob = await registerWith(url, await mint(ec, { sub: 'bob', iss: ISSUER, aud: AUDIENCE }), { name: 'bob' })
  t.equal(bob.status, 201, 'ES256, and a body name equal to the claim')
  t.equal(bob.body.name, 'bob')
  const noBody = await request(url, 'POST', '/v1/sessions', { headers: { authorization: `Bearer ${await mint(ec, { sub: 'carol', iss: ISSUER, aud: AUDIENCE })}` } })
  t.equal(noBody.status, 201, 'no body at all')
  const edRes = await registerWith(url, await mint(ed, { sub: 'erin', iss: ISSUER, aud: AUDIENCE }))
  t.equal(edRes.status, 201, 'EdDSA (Ed25519)')

  const other = await registerWith(url, await mint(rsa, { sub: 'dave', iss: ISSUER, aud: AUDIENCE }), { name: 'alice2' })
  t.equal(other.status, 403)
  t.equal(other.body.error, 'name_not_allowed')
  const held = await registerWith(url, await mint(rsa, { sub: 'alice', iss: ISSUER, aud: AUDIENCE }))
  t.equal(held.status, 409, 'without takeOver a held name is taken, as in open mode')
  t.equal(held.body.error, 'name_taken')
  t.equal(jwks.fetches, 1, 'the JWKS was fetched once for all of these')
})

t.test('every rejection is 401 invalid_credentials (and never a session)', async (t) => {
  const jwks = await startJwks(t, [rsa, ec])
  const { url } = await startServer(t, { authJwksUrl: jwks.url, authIssuer: ISSUER, authAudience: AUDIENCE })
  const now = Math.floor(Date.now() / 1000)
  const stranger = await newKey('RS256', 'rsa-1') // same kid, another key: a forged signature
  const unknown = await newKey('ES256', 'ec-unknown')
  const good = { sub: 'victim', iss: ISSUER, aud: AUDIENCE }
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...good, exp: now + 300 })}.`
  // HS/RS confusion: an HMAC "signed" with the RSA public key, as a naive verifier would accept it.
  const confusedInput = `${b64({ alg: 'HS256', kid: 'rsa-1', typ: 'JWT' })}.${b64({ ...good, exp: now + 300 })}`
  const confused = `${confusedInput}.${createHmac('sha256', JSON.stringify(rsa.publicJwk)).update(confusedInput).digest('base64url')}`
  const [header, payload] = (await mint(rsa, good)).split('.')
  const cases: Array<[string, string | undefined]> = [
    ['no Authorization header', undefined],
    ['not a JWT', 'not-a-jwt'],
    ['a forged signature', await mint(stranger, good)],
    ['a tampered payload', `${header}.${b64({ ...good, sub: 'admin', exp: now + 300 })}.${(await mint(rsa, good)).split('.')[2]}`],
    ['an unknown kid', await mint(unknown, good)],
    ['expired beyond the 30 s leeway', await mint(rsa, { ...good, exp: now - 60 })],
    ['not valid yet beyond the leeway', await mint(rsa, { ...good, nbf: now + 120 })],
    ['no exp', await mint(rsa, { ...good, exp: undefined })],
    ['a wrong issuer', await mint(rsa, { ...good, iss: 'https://evil.example' })],
    ['a wrong audience', await mint(rsa, { ...good, aud: 'someone-else' })],
    ['alg none', unsigned],
    ['HS256 with the public key as secret', confused],
    ['the ES256 header on an RSA key', `${b64({ alg: 'ES256', kid: 'rsa-1' })}.${payload}.${(await mint(ec, good)).split('.')[2]}`],
    ['a name claim that is not a name', await mint(rsa, { ...good, sub: 'not a name!' })],
    ['a sigpost_may_call that is not a list', await mint(rsa, { ...good, sigpost_may_call: 'everyone' })],
  ]
  for (const [what, jwt] of cases) {
    const res = await registerWith(url, jwt)
    t.equal(res.status, 401, what)
    t.equal(res.body.error, 'invalid_credentials', what)
    t.type(res.body.message, 'string')
  }
  const within = await registerWith(url, await mint(rsa, { ...good, exp: now - 10, nbf: now + 10 }))
  t.equal(within.status, 201, 'exp and nbf within the 30 s leeway are accepted')
  const open = await request(url, 'POST', '/v1/sessions', { body: { name: 'squatter' } })
  t.equal(open.status, 401, 'a plain open-mode registration is refused')
  t.equal(open.body.error, 'invalid_credentials')
})

t.test('keys rotate without a restart; an unknown kid refetches at most once per cool-down', async (t) => {
  const rotated = await newKey('ES256', 'ec-2')
  const jwks = await startJwks(t, [rsa])
  // The default 30 s cool-down: an unknown kid right after a fetch does not fetch again.
  const strict = await startServer(t, { authJwksUrl: jwks.url })
  t.equal((await registerWith(strict.url, await mint(rsa, { sub: 'a1' }))).status, 201)
  t.equal(jwks.fetches, 1)
  jwks.publish([rsa, rotated])
  for (let i = 0; i < 3; i++) {
    const res = await registerWith(strict.url, await mint(rotated, { sub: `b${i}` }))
    t.equal(res.body.error, 'invalid_credentials', 'the new kid is unknown until the next fetch')
  }
  t.equal(jwks.fetches, 1, 'no fetch within 30 s of the last one, however many unknown kids come')

  // A short cool-down (AUTH_JWKS_COOLDOWN_MS) shows the rotation itself.
  const jwks2 = await startJwks(t, [rsa])
  const { url } = await startServer(t, { authJwksUrl: jwks2.url, authJwksCooldownMs: 200 })
  t.equal((await registerWith(url, await mint(rsa, { sub: 'c1' }))).status, 201)
  jwks2.publish([rotated]) // the old key is withdrawn, the new one published
  let accepted = 0
  await waitUntil(async () => {
    const res = await registerWith(url, await mint(rotated, { sub: `d${++accepted}` }))
    return res.status === 201
  })
  t.pass('a JWT signed with the new key is accepted once the cool-down has passed')
  t.equal(jwks2.fetches, 2, 'by one more fetch')
  await waitUntil(async () => {
    const res = await registerWith(url, await mint(rsa, { sub: 'e1' }))
    return res.body.error === 'invalid_credentials' && jwks2.fetches >= 3
  })
  t.pass('the withdrawn key no longer verifies')
})

t.test('an unreachable JWKS answers 503 auth_unavailable and never lets a token through', async (t) => {
  const closed = await startServer(t, { authJwksUrl: `http://127.0.0.1:${await freePort()}/jwks.json` })
  const res = await registerWith(closed.url, await mint(rsa, { sub: 'alice' }))
  t.equal(res.status, 503)
  t.equal(res.body.error, 'auth_unavailable')
  t.ok(Number(res.headers.get('retry-after')) >= 1, 'with Retry-After')

  const jwks = await startJwks(t, [rsa])
  const { url } = await startServer(t, { authJwksUrl: jwks.url, authJwksCooldownMs: 100 })
  jwks.fail(true)
  const failing = await registerWith(url, await mint(rsa, { sub: 'bob' }))
  t.equal(failing.status, 503, 'a JWKS answering 500 is unavailable too')
  t.equal(failing.body.error, 'auth_unavailable')
  jwks.fail(false)
  await waitUntil(async () => (await registerWith(url, await mint(rsa, { sub: 'bob' }))).status === 201)
  t.pass('once the JWKS answers again, registrations go through')
  jwks.fail(true)
  t.equal((await registerWith(url, await mint(rsa, { sub: 'carol' }))).status, 201, 'a cached key verifies while the JWKS is down')
  const unknownKid = await mint(await newKey('ES256', 'ec-new'), { sub: 'dave' })
  await waitUntil(async () => (await registerWith(url, unknownKid)).body.error === 'auth_unavailable')
  t.pass('an unknown kid while the JWKS is down is 503, not a guess')
})

t.test('HS256 with AUTH_JWT_SECRET; algorithms are pinned per key type', async (t) => {
  const secret = 'a-long-shared-secret-for-hs256-tests-0123456789'
  const { url } = await startServer(t, { authJwtSecret: secret })
  const ok = await registerWith(url, await mintHs256(secret, { sub: 'alice' }))
  t.equal(ok.status, 201)
  t.equal(ok.body.name, 'alice')
  for (const [what, jwt] of [
    ['a wrong secret', await mintHs256('another-secret-another-secret-another', { sub: 'bob' })],
    ['an RS256 token on an HS256-only server', await mint(rsa, { sub: 'bob' })],
  ] as const) {
    const res = await registerWith(url, jwt)
    t.equal(res.status, 401, what)
    t.equal(res.body.error, 'invalid_credentials', what)
  }
  const custom = await startServer(t, { authJwtSecret: secret, authNameClaim: 'preferred_username' })
  const named = await registerWith(custom.url, await mintHs256(secret, { sub: 'u-1234', preferred_username: 'carol' }))
  t.equal(named.body.name, 'carol', 'AUTH_NAME_CLAIM picks the claim')
})

t.test('take-over by the verified owner: old stream replaced, old token 401, its peer peer_gone', async (t) => {
  const secret = 'take-over-secret-take-over-secret-take-over'
  const { url } = await startServer(t, { authJwtSecret: secret })
  const jwt = (sub: string) => mintHs256(secret, { sub })
  const first = await registerWith(url, await jwt('alice'))
  const alice = peer(url, 'alice', first.body.token)
  const bobRes = await registerWith(url, await jwt('bob'))
  const bob = peer(url, 'bob', bobRes.body.token)
  const stream = new SseClient(url, { token: alice.token })
  await stream.opened
  t.equal((await stream.next()).event, 'ready')
  const call = await bob.post('/v1/calls', { to: 'alice', sdpOffer: offer })
  t.equal(call.status, 201)
  t.equal((await stream.nextOf('incomingCall')).data.callId, call.body.callId)
  t.equal((await alice.post(`/v1/calls/${call.body.callId}/accept`, { sdpAnswer: { type: 'answer', sdp: 'v=0\r\n' } })).status, 200)

  const again = await registerWith(url, await jwt('alice'))
  t.equal(again.body.error, 'name_taken', 'without takeOver: 409 name_taken')
  const second = await registerWith(url, await jwt('alice'), { takeOver: true })
  t.equal(second.status, 201, 'with takeOver: 201')
  t.not(second.body.token, alice.token)
  t.equal((await stream.nextOf('replaced')).event, 'replaced', 'the old stream gets event: replaced')
  await stream.ended
  t.equal((await alice.get('/v1/blocks')).status, 401, 'the old token is dead')
  t.equal((await alice.get('/v1/blocks')).body.error, 'unauthorized')
  const bobEvents = (await poll(bob, 'wait=0')).body.events
  t.same(bobEvents.filter((e) => e.event === 'stopCommunication').map((e) => e.data), [{ callId: call.body.callId, reason: 'peer_gone' }],
    'the call ends for the peer with peer_gone')
  t.equal((await bob.get(`/v1/calls/${call.body.callId}`)).body.state, 'ended')
  const newAlice = peer(url, 'alice', second.body.token)
  t.equal((await newAlice.get('/v1/blocks')).status, 200, 'the new session works')
  const redial = await bob.post('/v1/calls', { to: 'alice', sdpOffer: offer })
  t.equal(redial.status, 201, 'and can be called')
  const taken = await registerWith(url, await jwt('carol'), { takeOver: true })
  t.equal(taken.status, 201, 'takeOver of a free name simply registers it')

  const openMode = await startServer(t)
  const denied = await request(openMode.url, 'POST', '/v1/sessions', { body: { name: 'alice', takeOver: true } })
  t.equal(denied.status, 403, 'open mode: takeOver is 403')
  t.equal(denied.body.error, 'forbidden')
  t.equal((await request(openMode.url, 'POST', '/v1/sessions', { body: { name: 'alice', takeOver: false } })).status, 201)
})

t.test('sigpost_may_call: names and prefixes allowed, anyone else 403 forbidden', async (t) => {
  const secret = 'may-call-secret-may-call-secret-may-call'
  const { url } = await startServer(t, { authJwtSecret: secret })
  const register = async (sub: string, claims: Record<string, unknown> = {}) => {
    const res = await registerWith(url, await mintHs256(secret, { sub, ...claims }))
    return peer(url, sub, res.body.token)
  }
  const guest = await register('guest-1', { sigpost_may_call: ['support-*', 'carol'] })
  await register('support-7')
  await register('carol')
  await register('dave')
  const toSupport = await guest.post('/v1/calls', { to: 'support-7', sdpOffer: offer })
  t.equal(toSupport.status, 201, 'a prefix entry allows support-7')
  await guest.del(`/v1/calls/${toSupport.body.callId}`)
  const toCarol = await guest.post('/v1/calls', { to: 'carol', sdpOffer: offer })
  t.equal(toCarol.status, 201, 'a name entry allows carol')
  await guest.del(`/v1/calls/${toCarol.body.callId}`)
  for (const to of ['dave', 'nobody-here', 'support']) {
    const res = await guest.post('/v1/calls', { to, sdpOffer: offer })
    t.equal(res.status, 403, to)
    t.equal(res.body.error, 'forbidden', `${to}: forbidden, whether or not the name is registered`)
  }
  const dave = await registerWith(url, await mintHs256(secret, { sub: 'dave2' }))
  const free = await peer(url, 'dave2', dave.body.token).post('/v1/calls', { to: 'guest-1', sdpOffer: offer })
  t.equal(free.status, 201, 'without the claim: anyone')
})

t.test('the directory is off by default with verified names; DIRECTORY switches it', async (t) => {
  const secret = 'directory-secret-directory-secret-directory'
  const verified = await startServer(t, { authJwtSecret: secret })
  const alice = peer(verified.url, 'alice', (await registerWith(verified.url, await mintHs256(secret, { sub: 'alice' }))).body.token)
  const off = await alice.get('/v1/sessions')
  t.equal(off.status, 403)
  t.equal(off.body.error, 'forbidden')
  t.equal((await request(verified.url, 'GET', '/v1/sessions')).status, 401, 'without a session: 401 first')

  const on = await startServer(t, { authJwtSecret: secret, directory: 'on' })
  const bob = peer(on.url, 'bob', (await registerWith(on.url, await mintHs256(secret, { sub: 'bob' }))).body.token)
  t.same((await bob.get('/v1/sessions')).body.names, ['bob'], 'DIRECTORY=on turns it back on')

  const openOff = await startServer(t, { directory: 'off' })
  const carol = await request(openOff.url, 'POST', '/v1/sessions', { body: { name: 'carol' } })
  t.equal((await peer(openOff.url, 'carol', carol.body.token).get('/v1/sessions')).body.error, 'forbidden', 'DIRECTORY=off in open mode')
})

t.test('TURN credentials only to sessions; ?token= is off by default with verified names', async (t) => {
  const secret = 'turn-secret-turn-secret-turn-secret-turn'
  const { url } = await startServer(t, { authJwtSecret: secret, turnSecret: 'coturn-shared', turnUrls: ['turn:127.0.0.1:3478'] })
  const jwt = await mintHs256(secret, { sub: 'alice' })
  for (const [what, headers] of [['no token', {}], ['the JWT itself', { authorization: `Bearer ${jwt}` }]] as const) {
    const res = await request(url, 'GET', '/v1/ice-servers', { headers })
    t.equal(res.status, 401, `GET /v1/ice-servers with ${what}`)
    t.equal(res.body.iceServers, undefined, 'no TURN credential')
  }
  const refused = await registerWith(url, await mintHs256('wrong-secret-wrong-secret-wrong-secret', { sub: 'alice' }))
  t.equal(refused.body.error, 'invalid_credentials')
  t.equal(refused.body.iceServers, undefined, 'a refused registration carries no TURN credential')
  const res = await registerWith(url, jwt)
  t.match(res.body.iceServers, [{ urls: ['turn:127.0.0.1:3478'], username: /^\d+:alice$/, credential: String }], 'the session gets them')
  const alice = peer(url, 'alice', res.body.token)
  t.equal((await alice.get('/v1/ice-servers')).status, 200)

  const viaQuery = new SseClient(url, { query: `token=${alice.token}` })
  await viaQuery.opened
  t.equal(viaQuery.status, 401, '?token= on /v1/events is refused')
  t.equal((await viaQuery.errorBody()).error, 'unauthorized')
  const pollQuery = await request(url, 'GET', `/v1/poll?wait=0&token=${alice.token}`)
  t.equal(pollQuery.status, 401, '?token= on /v1/poll is refused')
  t.equal(pollQuery.body.error, 'unauthorized')
  t.equal((await poll(alice, 'wait=0')).status, 200, 'the header works')
})

t.test('a take-over frees the older session\'s place under MAX_SESSIONS_PER_IP', async (t) => {
  const secret = 'per-ip-secret-per-ip-secret-per-ip-secret'
  const { url } = await startServer(t, { authJwtSecret: secret, maxSessionsPerIp: 1 })
  const first = await registerWith(url, await mintHs256(secret, { sub: 'alice' }))
  t.equal(first.status, 201)
  const other = await registerWith(url, await mintHs256(secret, { sub: 'bob' }))
  t.equal(other.status, 429, 'a second name from this address is over the limit')
  const again = await registerWith(url, await mintHs256(secret, { sub: 'alice' }), { takeOver: true })
  t.equal(again.status, 201, 'taking over its own name is not')
  t.equal((await peer(url, 'alice', first.body.token).get('/v1/blocks')).status, 401, 'the older session ended')
  t.equal((await registerWith(url, await mintHs256(secret, { sub: 'bob' }))).status, 429, 'and the count is still one')
})

t.test('a JWT living longer than AUTH_MAX_TOKEN_LIFETIME_S is 401 invalid_credentials', async (t) => {
  const secret = 'lifetime-secret-lifetime-secret-lifetime'
  const { url } = await startServer(t, { authJwtSecret: secret })
  const now = Math.floor(Date.now() / 1000)
  const tenYears = await registerWith(url, await mintHs256(secret, { sub: 'alice', iat: now, exp: now + 10 * 365 * 86400 }))
  t.same([tenYears.status, tenYears.body.error], [401, 'invalid_credentials'], 'a 10-year exp')
  t.match(tenYears.body.message, /lives longer/)
  t.equal((await registerWith(url, await mintHs256(secret, { sub: 'alice', iat: now, exp: now + 3601 }))).status, 401, 'one second past an hour, from iat')
  t.equal((await registerWith(url, await mintHs256(secret, { sub: 'alice', iat: now, exp: now + 3600 }))).status, 201, 'an hour exactly')
  t.equal((await registerWith(url, await mintHs256(secret, { sub: 'bob', iat: undefined, exp: now + 7200 }))).status, 401, 'without iat: exp − now')
  t.equal((await registerWith(url, await mintHs256(secret, { sub: 'bob', iat: undefined, exp: now + 600 }))).status, 201, 'without iat, 10 minutes')
  const day = await startServer(t, { authJwtSecret: secret, authMaxTokenLifetimeS: 86400 })
  t.equal((await registerWith(day.url, await mintHs256(secret, { sub: 'carol', iat: now, exp: now + 7200 }))).status, 201, 'configurable')
})

t.test('a short AUTH_JWT_SECRET or an http: JWKS beyond loopback stops the server at start', async (t) => {
  await t.rejects(buildApp({ logger: false, authJwtSecret: 'x' }), /AUTH_JWT_SECRET must be at least 32 bytes \(it is 1\)/)
  await t.rejects(buildApp({ logger: false, authJwtSecret: 'a'.repeat(31) }), /at least 32 bytes/)
  await t.rejects(buildApp({ logger: false, authJwksUrl: 'http://keys.example/jwks.json' }), /AUTH_JWKS_URL must be an https: URL/)
  await t.rejects(buildApp({ logger: false, authJwksUrl: 'ftp://keys.example/jwks.json' }), /AUTH_JWKS_URL must be an https: URL/)
  for (const options of [{ authJwtSecret: 'a'.repeat(32) }, { authJwksUrl: 'https://keys.example/jwks.json' }, { authJwksUrl: 'http://127.0.0.1:9/jwks.json' }, { authJwksUrl: 'http://[::1]:9/jwks.json' }, { authJwksUrl: 'http://localhost:9/jwks.json' }]) {
    const app = await buildApp({ logger: false, ...options })
    await app.close()
    t.pass(`accepted: ${JSON.stringify(options)}`)
  }
})

t.test('a JWKS body over AUTH_JWKS_MAX_BYTES is refused, declared or not', async (t) => {
  const padding = { chunked: false, bytes: 0 }
  const server = http.createServer((_request, response) => {
    const body = JSON.stringify({ keys: [rsa.publicJwk], padding: 'x'.repeat(padding.bytes) })
    if (padding.chunked) {
      response.writeHead(200, { 'content-type': 'application/json' })
      for (let at = 0; at < body.length; at += 64 * 1024) response.write(body.slice(at, at + 64 * 1024))
      response.end()
    } else {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`
  for (const chunked of [false, true]) {
    Object.assign(padding, { chunked, bytes: 2 * 1024 * 1024 })
    const { url } = await startServer(t, { authJwksUrl: jwksUrl })
    const big = await registerWith(url, await mint(rsa, { sub: 'alice' }))
    t.same([big.status, big.body.error], [503, 'auth_unavailable'], `${chunked ? 'chunked' : 'with Content-Length'}: a 2 MiB JWKS is not taken`)
    Object.assign(padding, { bytes: 1000 })
    const small = await startServer(t, { authJwksUrl: jwksUrl })
    t.equal((await registerWith(small.url, await mint(rsa, { sub: 'alice' }))).status, 201, 'a small one is')
  }
})

t.test('while a JWKS refresh fails, cached keys keep verifying; only an unknown kid waits for it', async (t) => {
  const jwks = await startJwks(t, [rsa])
  // Every verification finds the keys old (AUTH_JWKS_MAX_AGE_MS 1) and no cool-down holds a refresh back.
  const { url } = await startServer(t, { authJwksUrl: jwks.url, authJwksMaxAgeMs: 1, authJwksCooldownMs: 0 })
  t.equal((await registerWith(url, await mint(rsa, { sub: 'alice' }))).status, 201)
  jwks.fail(true)
  const fetched = jwks.fetches
  const statuses = []
  for (const name of ['bob', 'carol', 'dave']) statuses.push((await registerWith(url, await mint(rsa, { sub: name }))).status)
  t.same(statuses, [201, 201, 201], 'the cached key verifies while refreshes fail')
  const unknown = await registerWith(url, await mint(await newKey('ES256', 'ec-unknown'), { sub: 'erin' }))
  t.same([unknown.status, unknown.body.error], [503, 'auth_unavailable'], 'an unknown kid needs the refresh: 503')
  t.ok(jwks.fetches - fetched >= 1, 'the JWKS was asked again, and failed')
  t.equal((await registerWith(url, await mint(rsa, { sub: 'frank' }))).status, 201, 'known kids still verify')
})
