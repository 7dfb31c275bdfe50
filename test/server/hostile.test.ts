/**
 * What a hostile client can no longer take from the others (docs/operations.md "Limits and abuse", docs/http-api.md "Delivery promise"),
 * on the store named by SIGPOST_TEST_STORE: each attack with its own small bound, asserting the code the
 * attacker gets and that the honest party still gets through.
 */
import http from 'node:http'
import t from 'tap'
import { startServer } from '../helpers/server.js'
import { until } from '../helpers/wait.js'
import { answer, candidate, offer, openStream, poll, register, request, type Peer } from '../helpers/client.js'

async function ring(from: Peer, to: Peer, sdpOffer: unknown = offer): Promise<string> {
  const res = await from.post('/v1/calls', { to: to.name, sdpOffer })
  if (res.status !== 201) throw new Error(`call failed: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.callId
}

/** A registration from a given loopback address (127.0.0.x stand for distinct clients). */
function registerFrom(url: string, name: string, localAddress: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/sessions`, { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
    })
    req.on('error', reject)
    req.end(JSON.stringify({ name }))
  })
}

t.test('descriptions over 32 KiB and candidates over 2 KiB are 413 body_too_large, and nothing is relayed', async (t) => {
  const { url } = await startServer(t)
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const huge = { type: 'offer', sdp: 'v=0\r\n'.padEnd(33 * 1024, 'a') }
  const tooBig = await alice.post('/v1/calls', { to: 'bob', sdpOffer: huge })
  t.equal(tooBig.status, 413)
  t.equal(tooBig.body.error, 'body_too_large')
  t.equal((await poll(bob, 'wait=0')).body.events.length, 0, 'bob was not called')
  const extra = await alice.post('/v1/calls', { to: 'bob', sdpOffer: { type: 'offer', sdp: 'v=0', padding: 'x'.repeat(33 * 1024) } })
  t.equal(extra.status, 413, 'unknown fields count: the whole description is relayed')
  const callId = await ring(alice, bob, { type: 'offer', sdp: 'v=0\r\n'.padEnd(30 * 1024, 'a') })
  const fat = { candidate: `candidate:1 1 udp 1 127.0.0.1 9 typ host ${'x'.repeat(2100)}`, sdpMid: '0' }
  const one = await alice.post(`/v1/calls/${callId}/candidates`, { candidate: fat })
  t.equal(one.status, 413)
  t.equal(one.body.error, 'body_too_large')
  const batch = await alice.post(`/v1/calls/${callId}/candidates`, { candidates: [candidate(1), fat] })
  t.equal(batch.status, 413, 'a batch with one oversized candidate is refused whole')
  const answerTooBig = await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: { type: 'answer', sdp: 'x'.repeat(33 * 1024) } })
  t.equal(answerTooBig.status, 413)
  const events = (await poll(bob, 'wait=0')).body.events
  t.same(events.map((e) => e.event), ['incomingCall'], 'only the call itself reached bob')
  t.equal((await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })).status, 200, 'the call goes on')
})

t.test('a call carries at most maxCandidatesPerCall candidates from each side: 429 candidate_limit', async (t) => {
  const { url } = await startServer(t, { maxCandidatesPerCall: 5 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const callId = await ring(alice, bob)
  t.equal((await alice.post(`/v1/calls/${callId}/candidates`, { candidates: [1, 2, 3, 4].map(candidate) })).status, 202)
  const over = await alice.post(`/v1/calls/${callId}/candidates`, { candidates: [candidate(5), candidate(6)] })
  t.equal(over.status, 429)
  t.equal(over.body.error, 'candidate_limit')
  t.equal((await alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(5) })).status, 202, 'up to the limit exactly')
  t.equal((await alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(6) })).status, 429)
  t.equal((await bob.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(100) })).status, 202, 'the other side has its own count')
  const got = (await poll(bob, 'wait=0')).body.events.filter((e) => e.event === 'iceCandidate')
  t.equal(got.length, 5, 'bob received exactly the accepted five')
})

t.test('a stranger fills at most half of a mailbox: honest callers still get through', async (t) => {
  const { url } = await startServer(t, { mailboxMaxEvents: 20 })
  const victim = await register(url, 'victim')
  const mallory = await register(url, 'mallory')
  const alice = await register(url, 'alice')
  // The victim's stream is down. Mallory calls and trickles until the server refuses.
  const callId = await ring(mallory, victim)
  let accepted = 0
  // Bounded: the mailbox holds 20, so the 21st send at the latest is refused.
  for (let sent = 0; sent <= 20; sent++) {
    const res = await mallory.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(accepted) })
    if (res.status !== 202) {
      t.equal(res.status, 429)
      t.equal(res.body.error, 'mailbox_full')
      break
    }
    accepted++
  }
  t.equal(accepted, 9, 'mallory holds 10 of 20: the call and nine candidates')
  t.equal((await mallory.del(`/v1/calls/${callId}`)).status, 204)
  // Call and cancel, again and again: each missed call costs one event of mallory's own share.
  let cycles = 0
  for (; cycles < 50; cycles++) {
    const res = await mallory.post('/v1/calls', { to: 'victim', sdpOffer: offer })
    if (res.status !== 201) {
      t.equal(res.body.error, 'mailbox_full', 'mallory is stopped by her own share')
      break
    }
    await mallory.del(`/v1/calls/${res.body.callId}`)
  }
  t.ok(cycles < 50, `mallory stopped after ${cycles} more cycles`)
  const honest = await alice.post('/v1/calls', { to: 'victim', sdpOffer: offer })
  t.equal(honest.status, 201, `alice still gets through: ${JSON.stringify(honest.body)}`)
  const events = (await poll(victim, 'wait=0')).body.events
  t.equal(events.at(-1)!.event, 'incomingCall')
  t.equal(events.at(-1)!.data.from, 'alice')
  t.ok(events.slice(0, -1).every((e) => e.event === 'missedCall' && e.data.from === 'mallory'), 'before it, only mallory\'s missed calls')
})

t.test('missed calls: a call that ends before reaching the callee becomes one missedCall', async (t) => {
  const { url } = await startServer(t, { ringTimeoutMs: 300 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const carol = await register(url, 'carol')

  // Cancelled by the caller, candidates and all.
  const cancelled = await ring(alice, bob)
  await alice.post(`/v1/calls/${cancelled}/candidates`, { candidates: [1, 2, 3].map(candidate) })
  await alice.del(`/v1/calls/${cancelled}`)
  // Unanswered: the ring time-out ends it for both. bob's stream opens only once carol has been told
  // (so bob never saw the call, however slow the machine).
  const carolIn = await openStream(url, carol)
  const unanswered = await ring(carol, bob)
  t.same((await carolIn.nextOf('stopCommunication')).data, { callId: unanswered, reason: 'no_answer' })
  carolIn.close()
  const bobIn = await openStream(url, bob)
  const first = await bobIn.next()
  t.equal(first.event, 'missedCall')
  t.match(first.data, { callId: cancelled, from: 'alice', reason: 'cancelled' })
  t.ok(!Number.isNaN(Date.parse(first.data.at)), 'with the time it ended')
  const second = await bobIn.next()
  t.equal(second.event, 'missedCall')
  t.match(second.data, { callId: unanswered, from: 'carol', reason: 'no_answer' })
  bobIn.close()
  await bobIn.ended

  // A call the callee saw ends with stopCommunication as before.
  const bobAgain = await openStream(url, bob, { lastEventId: bobIn.events.at(-1)!.id })
  const seen = await ring(alice, bob)
  t.equal((await bobAgain.nextOf('incomingCall')).data.callId, seen)
  await alice.del(`/v1/calls/${seen}`)
  t.same((await bobAgain.nextOf('stopCommunication')).data, { callId: seen, reason: 'cancelled' })
  bobAgain.close()
  await bobAgain.ended

  // The caller's session ends while ringing: a callee who never saw it (no stream yet) is told once.
  const dave = await register(url, 'dave')
  const gone = await ring(carol, dave)
  await carol.del('/v1/sessions/current')
  const events = (await poll(dave, 'wait=0')).body.events
  t.same(events.map((e) => e.event), ['missedCall'])
  t.match(events[0].data, { callId: gone, from: 'carol', reason: 'cancelled' })
})

t.test('the replay window holds at most replayMaxBytes of written events', async (t) => {
  const { url } = await startServer(t, { replayMaxBytes: 1000, replayMaxEvents: 1000 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const stream = await openStream(url, bob)
  const callId = await ring(alice, bob)
  await stream.next()
  for (let n = 1; n <= 30; n++) {
    await alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(n) })
    await stream.next()
  }
  stream.close()
  await stream.ended
  const replay = (await poll(bob, 'wait=0')).body.events
  const bytes = replay.reduce((sum, e) => sum + JSON.stringify(e.data).length, 0)
  t.ok(replay.length > 0 && bytes <= 1000, `${replay.length} events, ${bytes} bytes held for a resume without an id`)
  t.same(replay.at(-1)!.data.candidate, candidate(30), 'the newest are the ones kept')
})

t.test('the replay window\'s age holds while nothing new arrives', async (t) => {
  const { url } = await startServer(t, { replayMaxAgeMs: 200, heartbeatMs: 100 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const stream = await openStream(url, bob)
  await ring(alice, bob)
  await stream.next()
  // No event can be awaited here: the trim is a server timer. The stream stays open and idle meanwhile.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const replay = (await poll(bob, 'wait=0')).body.events
  t.same(replay, [], 'the written event aged out without anything new arriving')
  stream.close()
})

t.test('the directory comes in pages, in name order, rate-limited per session', async (t) => {
  const { url } = await startServer(t, { rateDirectoryPerWindow: 6 })
  const names = ['delta', 'alpha', 'echo', 'charlie', 'bravo', 'foxtrot', 'golf']
  const peers = await Promise.all(names.map((name) => register(url, name)))
  const me = peers[0]
  const first = await me.get('/v1/sessions?limit=3')
  t.same(first.body, { names: ['alpha', 'bravo', 'charlie'], next: 'charlie' })
  const second = await me.get('/v1/sessions?limit=3&after=charlie')
  t.same(second.body, { names: ['delta', 'echo', 'foxtrot'], next: 'foxtrot' })
  const last = await me.get('/v1/sessions?limit=3&after=foxtrot')
  t.same(last.body, { names: ['golf'], next: null })
  for (const bad of ['limit=0', 'limit=501', 'limit=x']) {
    const res = await me.get(`/v1/sessions?${bad}`)
    t.equal(res.status, 400, bad)
    t.equal(res.body.error, 'invalid_query', bad)
  }
  const limited = await me.get('/v1/sessions')
  t.equal(limited.status, 429, 'the seventh read in the window')
  t.equal(limited.body.error, 'rate_limited')
  t.match(limited.headers.get('retry-after'), /^\d+$/)
  t.equal((await peers[1].get('/v1/sessions')).status, 200, 'another session has its own budget')
})

t.test('one address holds at most maxSessionsPerIp live sessions; others register as usual', async (t) => {
  const { url } = await startServer(t, { maxSessionsPerIp: 3 })
  const held: Array<{ status: number; body: any }> = []
  for (let n = 0; n < 3; n++) held.push(await registerFrom(url, `m-${n}`, '127.0.0.2'))
  t.same(held.map((r) => r.status), [201, 201, 201])
  const refused = await registerFrom(url, 'm-3', '127.0.0.2')
  t.equal(refused.status, 429)
  t.equal(refused.body.error, 'rate_limited')
  t.equal((await registerFrom(url, 'honest', '127.0.0.3')).status, 201, 'another address is not affected')
  await request(url, 'DELETE', '/v1/sessions/current', { token: held[0].body.token })
  t.equal((await registerFrom(url, 'm-3', '127.0.0.2')).status, 201, 'an ended session frees its place')
})

t.test('a replaced stream\'s connection is closed at once, even when its client does not read', async (t) => {
  const big = 16 * 1024 * 1024
  const { url, app } = await startServer(t, {
    mailboxMaxBytes: big, mailboxMaxEvents: 100_000, replayMaxBytes: big, replayMaxEvents: 100_000,
    maxCandidatesPerCall: 100_000, rateSendPerWindow: 1e9, streamMaxUnreadBytes: big,
  })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const hung = await openStream(url, bob)
  const callId = await ring(alice, bob)
  await hung.next()
  hung.pause()
  const padded = (n: number) => ({ candidate: `candidate:${n} 1 udp 1 127.0.0.1 9 typ host ${'x'.repeat(1900)}`, sdpMid: '0' })
  // Enough to fill the kernel's buffers of the hung connection (a few MB on loopback) and more.
  for (let n = 0; n < 3000; n += 25) {
    await alice.post(`/v1/calls/${callId}/candidates`, { candidates: Array.from({ length: 25 }, (_, k) => padded(n + k)) })
  }
  const connections = () => new Promise<number>((resolve) => app.server.getConnections((_e, count) => resolve(count)))
  const before = await connections()
  const fresh = await openStream(url, bob, { lastEventId: hung.events.at(-1)!.id })
  await until(async () => (await connections()) < before + 1, 'the hung connection to be closed', { everyMs: 0 })
  t.pass('the hung connection is gone as soon as the new stream replaced it')
  const got = await fresh.next()
  t.equal(got.event, 'iceCandidate', 'the new stream goes on from the cursor')
  t.equal(got.data.candidate.candidate, padded(0).candidate)
  fresh.close()
  hung.close()
})
