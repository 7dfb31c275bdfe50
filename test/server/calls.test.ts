import t from 'tap'
import { startServer } from '../helpers/server.js'
import { answer, candidate, offer, openStream, poll, register, type Peer } from '../helpers/client.js'

async function pair(url: string) {
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  return { alice, bob, aliceIn: await openStream(url, alice), bobIn: await openStream(url, bob) }
}

async function call(from: Peer, to: string): Promise<string> {
  const res = await from.post('/v1/calls', { to, sdpOffer: offer })
  if (res.status !== 201) throw new Error(`call: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.callId
}

t.test('a whole call: offer, trickle while ringing, accept, renegotiate, hang up', async (t) => {
  const { url } = await startServer(t)
  const { alice, bob, aliceIn, bobIn } = await pair(url)
  const callId = await call(alice, 'bob')
  t.same((await bobIn.next()).data, { callId, from: 'alice', sdpOffer: offer })
  t.match((await bob.get(`/v1/calls/${callId}`)).body, { callId, caller: 'alice', callee: 'bob', state: 'ringing' })

  // Trickle ICE starts as soon as the call exists: before the callee answers.
  t.equal((await alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(1) })).status, 202)
  t.same((await bobIn.next()), { id: (bobIn.events.at(-1)!).id, event: 'iceCandidate', data: { callId, candidate: candidate(1) } })

  const accepted = await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })
  t.equal(accepted.status, 200)
  t.equal(accepted.body.state, 'active')
  t.same((await aliceIn.next()).data, { callId, response: 'accepted', sdpAnswer: answer })
  t.same((await bobIn.next()), { id: bobIn.events.at(-1)!.id, event: 'startCommunication', data: { callId } })

  t.equal((await bob.post(`/v1/calls/${callId}/candidates`, { candidates: [candidate(2), candidate(3), null] })).status, 202)
  t.same([await aliceIn.next(), await aliceIn.next(), await aliceIn.next()].map((e) => e.data.candidate), [candidate(2), candidate(3), null], 'one event per candidate, in order, null = end-of-candidates')

  const restart = { type: 'offer', sdp: 'v=0\r\na=ice-restart\r\n' }
  t.equal((await bob.post(`/v1/calls/${callId}/sdp`, { description: restart })).status, 202)
  t.same((await aliceIn.next()), { id: aliceIn.events.at(-1)!.id, event: 'sdp', data: { callId, description: restart } })

  t.equal((await alice.del(`/v1/calls/${callId}`)).status, 204)
  t.same((await bobIn.next()).data, { callId, reason: 'hangup' })
  t.match((await alice.get(`/v1/calls/${callId}`)).body, { state: 'ended', endReason: 'hangup' })
  t.equal((await bob.del(`/v1/calls/${callId}`)).status, 204, 'a retried hang-up is harmless')
  t.equal((await alice.del(`/v1/calls/${callId}`)).status, 204)
  // Both are free: a new call works, and no stray event came before it.
  const next = await call(bob, 'alice')
  t.same((await aliceIn.next()).data.callId, next, 'no event from the repeated DELETEs')
  aliceIn.close()
  bobIn.close()
})

t.test('call errors: peer_not_found, yourself, busy', async (t) => {
  const { url } = await startServer(t)
  const { alice, bob } = await pair(url)
  const carol = await register(url, 'carol')
  const missing = await alice.post('/v1/calls', { to: 'nobody', sdpOffer: offer })
  t.same([missing.status, missing.body.error], [404, 'peer_not_found'])
  const self = await alice.post('/v1/calls', { to: 'alice', sdpOffer: offer })
  t.same([self.status, self.body.error], [400, 'invalid_body'])
  for (const body of [{ to: 'bob' }, { to: 'bob', sdpOffer: { type: 'answer', sdp: 'x' } }, { to: 'bob', sdpOffer: 'v=0' }, { to: 7, sdpOffer: offer }]) {
    const res = await alice.post('/v1/calls', body)
    t.same([res.status, res.body.error], [400, 'invalid_body'], JSON.stringify(body))
  }
  await call(alice, 'bob')
  const calleeBusy = await carol.post('/v1/calls', { to: 'bob', sdpOffer: offer })
  t.same([calleeBusy.status, calleeBusy.body.error], [409, 'busy'])
  const callerBusy = await alice.post('/v1/calls', { to: 'carol', sdpOffer: offer })
  t.same([callerBusy.status, callerBusy.body.error], [409, 'busy'])
  const bobCalls = await bob.post('/v1/calls', { to: 'carol', sdpOffer: offer })
  t.same([bobCalls.status, bobCalls.body.error], [409, 'busy'], 'a ringing callee is in a call too')
})

t.test('roles and states: forbidden, call_not_found, invalid_state', async (t) => {
  const { url } = await startServer(t)
  const { alice, bob } = await pair(url)
  const mallory = await register(url, 'mallory')
  const callId = await call(alice, 'bob')
  const expect = async (res: Promise<any>, status: number, error: string, what: string) => {
    const r = await res
    t.same([r.status, r.body?.error], [status, error], what)
  }
  await expect(alice.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer }), 403, 'forbidden', 'the caller cannot accept')
  await expect(alice.post(`/v1/calls/${callId}/reject`, {}), 403, 'forbidden', 'the caller cannot reject')
  await expect(mallory.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer }), 404, 'call_not_found', 'a stranger cannot accept')
  await expect(mallory.get(`/v1/calls/${callId}`), 404, 'call_not_found', 'a stranger cannot read')
  await expect(mallory.del(`/v1/calls/${callId}`), 404, 'call_not_found', 'a stranger cannot hang up')
  await expect(mallory.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(1) }), 404, 'call_not_found', 'a stranger cannot inject candidates')
  await expect(bob.get('/v1/calls/no-such-call'), 404, 'call_not_found', 'unknown id')
  await expect(bob.post(`/v1/calls/${callId}/sdp`, { description: offer }), 409, 'invalid_state', 'no renegotiation while ringing')
  await expect(bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: offer }), 400, 'invalid_body', 'an answer must be an answer')
  t.equal((await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })).status, 200)
  await expect(bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer }), 409, 'invalid_state', 'accepting an active call')
  await expect(bob.post(`/v1/calls/${callId}/reject`, {}), 409, 'invalid_state', 'rejecting an active call')
  t.equal((await bob.del(`/v1/calls/${callId}`)).status, 204)
  await expect(alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(1) }), 409, 'invalid_state', 'no candidates after the end')
  await expect(alice.post(`/v1/calls/${callId}/sdp`, { description: offer }), 409, 'invalid_state', 'no renegotiation after the end')
  await expect(alice.post(`/v1/calls/${callId}/candidates`, { candidate: { sdpMid: '0' } }), 400, 'invalid_body', 'a candidate needs its candidate line')
  await expect(alice.post(`/v1/calls/${callId}/candidates`, { candidates: [] }), 400, 'invalid_body', 'an empty batch')
})

t.test('reject, cancel, and a callee DELETE while ringing', async (t) => {
  // alice calls bob again right after each end: no redial cool-down here (test/server/blocks.test.ts has it).
  const { url } = await startServer(t, { redialCooldownMs: 0 })
  const { alice, bob, aliceIn, bobIn } = await pair(url)
  let callId = await call(alice, 'bob')
  await bobIn.next()
  t.equal((await bob.post(`/v1/calls/${callId}/reject`, { reason: 'in a meeting' })).status, 200)
  t.same((await aliceIn.next()).data, { callId, response: 'rejected', message: 'in a meeting' })
  t.match((await alice.get(`/v1/calls/${callId}`)).body, { state: 'ended', endReason: 'rejected' })

  callId = await call(alice, 'bob')
  await bobIn.next()
  t.equal((await alice.del(`/v1/calls/${callId}`)).status, 204)
  t.same((await bobIn.next()).data, { callId, reason: 'cancelled' })

  callId = await call(alice, 'bob')
  await bobIn.next()
  t.equal((await bob.del(`/v1/calls/${callId}`)).status, 204)
  t.same((await aliceIn.next()).data, { callId, response: 'rejected', message: 'declined' })
  aliceIn.close()
  bobIn.close()
})

t.test('a call that could not connect: DELETE {"reason": "failed", "cause"} ends it as failed for both, in any state', async (t) => {
  const { url } = await startServer(t)
  const { alice, bob, aliceIn, bobIn } = await pair(url)

  // Active: the side that found out says why; the other party reads the same reason and cause.
  let callId = await call(alice, 'bob')
  await bobIn.next()
  await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })
  await aliceIn.next()
  await bobIn.next()
  t.equal((await bob.del(`/v1/calls/${callId}`, { reason: 'failed', cause: 'relay_unreachable' })).status, 204)
  t.same(await aliceIn.next(), { id: aliceIn.events.at(-1)!.id, event: 'stopCommunication', data: { callId, reason: 'failed', cause: 'relay_unreachable' } })
  t.match((await alice.get(`/v1/calls/${callId}`)).body, { state: 'ended', endReason: 'failed', endCause: 'relay_unreachable' })
  // Both sides found out at about the same time: the first end wins, the second changes nothing.
  t.equal((await alice.del(`/v1/calls/${callId}`, { reason: 'failed', cause: 'ice_failed' })).status, 204)
  t.match((await bob.get(`/v1/calls/${callId}`)).body, { endReason: 'failed', endCause: 'relay_unreachable' }, 'the first report\'s cause stays')

  // Ringing, the caller's ICE failed before the callee answered: the callee stops ringing, told why (no
  // `cancelled`, no missed call), and no redial cool-down starts (the default one is on in this server).
  callId = await call(alice, 'bob')
  await bobIn.next()
  t.equal((await alice.del(`/v1/calls/${callId}`, { reason: 'failed', cause: 'no_relay' })).status, 204)
  t.same((await bobIn.next()).data, { callId, reason: 'failed', cause: 'no_relay' })
  const view = (await bob.get(`/v1/calls/${callId}`)).body
  t.match(view, { state: 'ended', endReason: 'failed', endCause: 'no_relay' })
  t.notOk(view.answeredAt, 'it was never answered')

  // Without a cause (the side did not know one): `failed` alone, and no endCause.
  callId = await call(bob, 'alice')
  await aliceIn.next()
  t.equal((await bob.del(`/v1/calls/${callId}`, { reason: 'failed' })).status, 204)
  t.same((await aliceIn.next()).data, { callId, reason: 'failed' })
  t.notOk('endCause' in (await alice.get(`/v1/calls/${callId}`)).body, 'no endCause')

  // A callee that never read the call gets one missed call, as for a cancel: ring-then-fail must not leave
  // two events per call in an offline callee's mailbox (the missed-call collapse of docs/operations.md "Limits and abuse").
  const carol = await register(url, 'carol')
  callId = await call(alice, 'carol')
  t.equal((await alice.del(`/v1/calls/${callId}`, { reason: 'failed', cause: 'relay_refused' })).status, 204)
  const held = await poll(carol, 'wait=0')
  t.same(held.body.events.map((e) => [e.event, e.data.reason ?? null, e.data.cause ?? null]), [['missedCall', 'cancelled', null]])
  t.match((await alice.get(`/v1/calls/${callId}`)).body, { endReason: 'failed', endCause: 'relay_refused' }, 'the call itself still ended as failed')

  // Only `failed` may be given, with a known cause; anything else is the client's mistake.
  callId = await call(alice, 'bob')
  await bobIn.next()
  for (const body of [{ reason: 'hangup' }, { reason: 'failed', cause: 'bogus' }, { cause: 'no_relay' }, 'failed']) {
    const res = await alice.del(`/v1/calls/${callId}`, body)
    t.same([res.status, res.body.error], [400, 'invalid_body'], JSON.stringify(body))
  }
  t.match((await alice.get(`/v1/calls/${callId}`)).body, { state: 'ringing' }, 'a refused body ends nothing')
  aliceIn.close()
  bobIn.close()
})

t.test('an unanswered call ends for both with no_answer after the ring time-out', async (t) => {
  const { url } = await startServer(t, { ringTimeoutMs: 200, redialCooldownMs: 0 })
  const { alice, bob, aliceIn, bobIn } = await pair(url)
  const callId = await call(alice, 'bob')
  await bobIn.next()
  t.same((await aliceIn.next()).data, { callId, reason: 'no_answer' })
  t.same((await bobIn.next()).data, { callId, reason: 'no_answer' })
  const late = await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })
  t.same([late.status, late.body.error], [409, 'invalid_state'])
  t.equal((await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })).status, 201, 'both are free again')
  aliceIn.close()
  bobIn.close()
})

t.test('grace expiry frees the name and tells the peer peer_gone', async (t) => {
  const { url } = await startServer(t, { graceMs: 300 })
  const { alice, bob, aliceIn, bobIn } = await pair(url)
  const callId = await call(alice, 'bob')
  await bobIn.next()
  await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })
  await aliceIn.next()
  bobIn.close() // bob's network drops and never comes back
  t.same((await aliceIn.nextOf('stopCommunication')).data, { callId, reason: 'peer_gone' })
  t.equal((await bob.get('/v1/sessions')).status, 401)
  t.equal((await register(url, 'bob')).name, 'bob', 'the name is free again')
  t.match((await alice.get(`/v1/calls/${callId}`)).body, { state: 'ended', endReason: 'peer_gone' })
  aliceIn.close()
})

t.test('a reconnect within grace keeps the call and its events', async (t) => {
  const { url } = await startServer(t, { graceMs: 5000 })
  const { alice, bob, aliceIn, bobIn } = await pair(url)
  const callId = await call(alice, 'bob')
  const incoming = await bobIn.next()
  bobIn.close()
  await bobIn.ended
  await alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(1) })
  const back = await openStream(url, bob, { lastEventId: incoming.id })
  t.same((await back.next()).data.candidate, candidate(1))
  t.equal((await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })).status, 200)
  t.equal((await aliceIn.next()).data.response, 'accepted')
  aliceIn.close()
  back.close()
})

t.test('ending a session ends its call as hangup', async (t) => {
  const { url } = await startServer(t)
  const { alice, bob, aliceIn, bobIn } = await pair(url)
  const callId = await call(alice, 'bob')
  await bobIn.next()
  await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })
  t.equal((await alice.del('/v1/sessions/current')).status, 204)
  t.same((await bobIn.nextOf('stopCommunication')).data, { callId, reason: 'hangup' })
  await aliceIn.ended
  t.pass('the ended session\'s stream is closed')
  bobIn.close()
})

t.test('spoofing: the sender is the token holder and nobody else', async (t) => {
  const { url } = await startServer(t)
  const { alice, bob, bobIn } = await pair(url)
  const mallory = await register(url, 'mallory')
  const carol = await register(url, 'carol')
  const res = await mallory.post('/v1/calls', { to: 'bob', from: 'alice', caller: 'alice', sdpOffer: offer })
  t.equal(res.status, 201)
  t.equal((await bobIn.next()).data.from, 'mallory', 'a body\'s "from" never changes the sender')
  await mallory.del(`/v1/calls/${res.body.callId}`)
  await bobIn.next()

  const callId = await call(alice, 'bob')
  await bobIn.next()
  const other = await call(mallory, 'carol')
  // mallory holds a call id of her own, but not of this pair.
  const inject = await mallory.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(666), from: 'alice' })
  t.same([inject.status, inject.body.error], [404, 'call_not_found'])
  const hijack = await mallory.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer, from: 'bob' })
  t.same([hijack.status, hijack.body.error], [404, 'call_not_found'])
  const cross = await bob.post(`/v1/calls/${other}/accept`, { sdpAnswer: answer })
  t.same([cross.status, cross.body.error], [404, 'call_not_found'], 'a call id of another pair')
  const asCarol = await alice.post(`/v1/calls/${other}/candidates`, { candidate: candidate(1) })
  t.equal(asCarol.status, 404)
  t.equal((await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })).status, 200, 'the real callee still can')
  t.equal(bobIn.events.filter((e) => e.event === 'iceCandidate').length, 0, 'nothing was injected')
  bobIn.close()
  void carol
})

t.test('100 concurrent calls between 200 sessions complete with every candidate in order', async (t) => {
  // Long ring time-out and grace: on a busy machine, 100 set-ups at once may take longer than the default
  // 30 s, and a callee that polls is only attached once its first poll starts.
  const { url } = await startServer(t, { rateRegisterPerWindow: 10_000, ringTimeoutMs: 600_000, graceMs: 600_000 })
  const PAIRS = 100
  const CANDIDATES = 8
  const callers = await Promise.all(Array.from({ length: PAIRS }, (_, i) => register(url, `caller-${i}`)))
  const callees = await Promise.all(Array.from({ length: PAIRS }, (_, i) => register(url, `callee-${i}`)))
  // Half the callees listen over SSE, half over long-poll.
  const results = await Promise.all(callers.map(async (caller, i) => {
    const callee = callees[i]
    const useSse = i % 2 === 0
    const stream = useSse ? await openStream(url, callee) : undefined
    const callerIn = await openStream(url, caller)
    const callId = await call(caller, callee.name)
    const sendAll = (from: Peer, base: number) => Promise.all(Array.from({ length: CANDIDATES }, (_, n) => n)).then(async (ns) => {
      for (const n of ns) {
        const res = await from.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(base + n) })
        if (res.status !== 202) throw new Error(`candidate: ${res.status}`)
      }
    })
    const calleeGot: any[] = []
    const receiveCallee = async () => {
      if (stream) {
        while (calleeGot.filter((e) => e.event === 'iceCandidate').length < CANDIDATES) calleeGot.push(await stream.next())
        return
      }
      let after = ''
      while (calleeGot.filter((e) => e.event === 'iceCandidate').length < CANDIDATES) {
        const res = await poll(callee, `${after}wait=10`)
        calleeGot.push(...res.body.events)
        if (res.body.events.length) after = `after=${res.body.events.at(-1)!.id}&`
      }
    }
    await Promise.all([sendAll(caller, 0), receiveCallee()])
    const accepted = await callee.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })
    await sendAll(callee, 100)
    const callerGot: any[] = []
    while (callerGot.filter((e) => e.event === 'iceCandidate').length < CANDIDATES) callerGot.push(await callerIn.next())
    await caller.del(`/v1/calls/${callId}`)
    stream?.close()
    callerIn.close()
    return {
      accepted: accepted.status,
      calleeCandidates: calleeGot.filter((e) => e.event === 'iceCandidate').map((e) => e.data.candidate.candidate),
      callerCandidates: callerGot.filter((e) => e.event === 'iceCandidate').map((e) => e.data.candidate.candidate),
      first: calleeGot[0].event,
    }
  }))
  const expected = (base: number) => Array.from({ length: CANDIDATES }, (_, n) => candidate(base + n).candidate)
  t.equal(results.filter((r) => r.accepted === 200).length, PAIRS, 'every call accepted')
  t.equal(results.filter((r) => r.first === 'incomingCall').length, PAIRS, 'every callee saw incomingCall first')
  t.equal(results.filter((r) => JSON.stringify(r.calleeCandidates) === JSON.stringify(expected(0))).length, PAIRS, 'callees got every candidate in order')
  t.equal(results.filter((r) => JSON.stringify(r.callerCandidates) === JSON.stringify(expected(100))).length, PAIRS, 'callers got every candidate in order')
})
