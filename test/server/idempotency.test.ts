/**
 * Idempotency-Key: a send retried with the same key (after a 503, a dropped connection) is answered
 * as the first attempt was and stores nothing again. The same file runs on Redis and on Sentinel.
 */
import t from 'tap'
import { startServer } from '../helpers/server.js'
import { answer, candidate, offer, openStream, register, request, type Peer } from '../helpers/client.js'

function keyed(url: string, p: Peer, key: string) {
  return (method: string, path: string, body?: unknown) => request(url, method, path, { token: p.token, body, headers: { 'idempotency-key': key } })
}

t.test('a retried send with the same Idempotency-Key gets the first answer and relays nothing twice', async (t) => {
  const { url } = await startServer(t)
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const aliceIn = await openStream(url, alice)
  const bobIn = await openStream(url, bob)

  const first = await keyed(url, alice, 'call-1')('POST', '/v1/calls', { to: 'bob', sdpOffer: offer })
  const again = await keyed(url, alice, 'call-1')('POST', '/v1/calls', { to: 'bob', sdpOffer: offer })
  t.same([first.status, again.status], [201, 201], 'the retry is not 409 busy')
  t.equal(again.body.callId, first.body.callId, 'the same call')
  const callId = first.body.callId

  for (let i = 0; i < 3; i++) {
    t.equal((await keyed(url, alice, 'cand-1')('POST', `/v1/calls/${callId}/candidates`, { candidate: candidate(1) })).status, 202)
  }
  // The same key with another body is another request.
  t.equal((await keyed(url, alice, 'cand-1')('POST', `/v1/calls/${callId}/candidates`, { candidate: candidate(2) })).status, 202)
  // Without a key, a repeat is a new send (the client did not ask for more).
  t.equal((await alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(3) })).status, 202)
  t.equal((await alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(3) })).status, 202)

  const accepted = await keyed(url, bob, 'accept-1')('POST', `/v1/calls/${callId}/accept`, { sdpAnswer: answer })
  const acceptedAgain = await keyed(url, bob, 'accept-1')('POST', `/v1/calls/${callId}/accept`, { sdpAnswer: answer })
  t.same([accepted.status, acceptedAgain.status], [200, 200], 'a retried accept is not 409 invalid_state')
  t.same(acceptedAgain.body, accepted.body)
  t.equal((await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })).body.error, 'invalid_state', 'an accept without the key is a new one')

  const events = [await bobIn.next(), await bobIn.next(), await bobIn.next(), await bobIn.next(), await bobIn.next()]
  t.same(events.map((e) => e.event), ['incomingCall', 'iceCandidate', 'iceCandidate', 'iceCandidate', 'iceCandidate'])
  t.same(events.slice(1).map((e) => e.data.candidate), [candidate(1), candidate(2), candidate(3), candidate(3)])
  t.equal((await bobIn.next()).event, 'startCommunication', 'one incomingCall, each keyed candidate once')
  t.equal((await aliceIn.next()).data.response, 'accepted')

  // Keys are per session: bob's key of the same name is his own.
  t.equal((await keyed(url, bob, 'cand-1')('POST', `/v1/calls/${callId}/candidates`, { candidate: candidate(1) })).status, 202)
  t.same((await aliceIn.next()).data.candidate, candidate(1))
  aliceIn.close()
  bobIn.close()
})

t.test('reject, sdp and DELETE retried with the same Idempotency-Key answer as the first and relay once', async (t) => {
  // alice calls bob again right after the reject: no redial cool-down here.
  const { url } = await startServer(t, { redialCooldownMs: 0 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const aliceIn = await openStream(url, alice)
  const bobIn = await openStream(url, bob)

  const rejected = (await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })).body.callId
  t.equal((await bobIn.next()).event, 'incomingCall')
  const reject = await keyed(url, bob, 'reject-1')('POST', `/v1/calls/${rejected}/reject`, { reason: 'busy here' })
  const rejectAgain = await keyed(url, bob, 'reject-1')('POST', `/v1/calls/${rejected}/reject`, { reason: 'busy here' })
  t.same([reject.status, rejectAgain.status], [200, 200], 'a retried reject is not 409 invalid_state')
  t.same(rejectAgain.body, reject.body)
  t.same((await aliceIn.next()).data, { callId: rejected, response: 'rejected', message: 'busy here' })

  const callId = (await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })).body.callId
  t.equal((await bobIn.next()).event, 'incomingCall')
  t.equal((await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })).status, 200)
  t.equal((await aliceIn.next()).data.response, 'accepted', 'the callResponse of this call is the next event: the reject was relayed once')
  t.equal((await bobIn.next()).event, 'startCommunication')
  const restart = { type: 'offer', sdp: 'v=0\r\na=ice-restart\r\n' }
  for (let i = 0; i < 2; i++) {
    t.equal((await keyed(url, alice, 'sdp-1')('POST', `/v1/calls/${callId}/sdp`, { description: restart })).status, 202)
  }
  const hangUp = await keyed(url, alice, 'end-1')('DELETE', `/v1/calls/${callId}`)
  const hangUpAgain = await keyed(url, alice, 'end-1')('DELETE', `/v1/calls/${callId}`)
  t.same([hangUp.status, hangUpAgain.status], [204, 204])
  t.same((await bobIn.next()).data, { callId, description: restart })
  t.same((await bobIn.next()).data, { callId, reason: 'hangup' }, 'one sdp, then the end: the keyed sdp was relayed once')
  // A third call's incomingCall comes next: the retried DELETE relayed no second end.
  const next = (await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })).body.callId
  t.same((await bobIn.next()).data.callId, next)
  aliceIn.close()
  bobIn.close()
})

t.test('an Idempotency-Key that is not 1-255 visible characters is 400 and relays nothing', async (t) => {
  const { url } = await startServer(t)
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const bobIn = await openStream(url, bob)
  const callId = (await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })).body.callId
  for (const key of ['x'.repeat(256), 'with space']) {
    const res = await keyed(url, alice, key)('POST', `/v1/calls/${callId}/candidates`, { candidate: candidate(1) })
    t.same([res.status, res.body.error], [400, 'invalid_body'])
    t.match(res.body.message, /idempotency-key/i)
  }
  t.equal((await alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(2) })).status, 202)
  await bobIn.next()
  t.same((await bobIn.next()).data.candidate, candidate(2), 'the refused ones were not relayed')
  bobIn.close()
})

t.test('CORS preflights allow the Idempotency-Key header', async (t) => {
  const { url } = await startServer(t)
  const res = await fetch(`${url}/v1/calls`, {
    method: 'OPTIONS',
    headers: { origin: 'https://example.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key' },
  })
  t.match(res.headers.get('access-control-allow-headers') ?? '', /Idempotency-Key/i)
})
