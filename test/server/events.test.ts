import t from 'tap'
import { createConnection } from 'node:net'
import { startServer } from '../helpers/server.js'
import { until } from '../helpers/wait.js'
import { answer, candidate, offer, openStream, poll, register, SseClient, type Peer } from '../helpers/client.js'

/** alice calls bob; returns the call id. Candidates from alice then become bob's events. */
async function ring(alice: Peer, bob: Peer): Promise<string> {
  const res = await alice.post('/v1/calls', { to: bob.name, sdpOffer: offer })
  if (res.status !== 201) throw new Error(`call failed: ${res.status}`)
  return res.body.callId
}

async function sendCandidates(from: Peer, callId: string, first: number, count: number): Promise<void> {
  for (let n = first; n < first + count; n++) {
    const res = await from.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(n) })
    if (res.status !== 202) throw new Error(`candidate ${n}: ${res.status} ${JSON.stringify(res.body)}`)
  }
}

t.test('SSE: headers, retry, ready first, then id/event/data', async (t) => {
  const { url } = await startServer(t, { sseRetryMs: 1500 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const stream = new SseClient(url, { query: `token=${encodeURIComponent(bob.token)}` })
  await stream.opened
  t.equal(stream.status, 200)
  t.match(stream.headers['content-type'], /^text\/event-stream/)
  t.equal(stream.headers['cache-control'], 'no-cache, no-transform')
  t.equal(stream.headers['x-accel-buffering'], 'no')
  const ready = await stream.next()
  t.same(ready, { id: undefined, event: 'ready', data: { name: 'bob' } })
  t.equal(stream.retry, 1500)
  const callId = await ring(alice, bob)
  const incoming = await stream.next()
  t.equal(incoming.event, 'incomingCall')
  t.match(incoming.id, /^\d+$/)
  t.same(incoming.data, { callId, from: 'alice', sdpOffer: offer })
  stream.close()
})

t.test('SSE: `event: heartbeat` (no id, data {}) soon after ready, then every heartbeatMs, busy or idle', async (t) => {
  // A heartbeat interval far beyond the test: the first heartbeat can only come from the 1 s after ready.
  const slow = await startServer(t, { heartbeatMs: 600_000 })
  const carol = await register(slow.url, 'carol')
  const first = await openStream(slow.url, carol)
  t.same(await first.nextHeartbeat(), { id: undefined, event: 'heartbeat', data: {}, at: first.heartbeats[0]?.at }, 'the first heartbeat comes without waiting for heartbeatMs')
  first.close()

  const { url } = await startServer(t, { heartbeatMs: 50 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const stream = await openStream(url, alice)
  await stream.nextHeartbeat(2)
  // Busy: while events flow, heartbeats keep coming, and they never move the cursor (no id).
  const callId = await ring(bob, alice)
  const beatsBefore = stream.heartbeats.length
  for (let round = 0; stream.heartbeats.length < beatsBefore + 2; round++) await sendCandidates(bob, callId, round * 5, 5)
  t.ok(stream.heartbeats.every((h) => h.id === undefined && h.event === 'heartbeat'), 'heartbeats carry no id')
  t.equal((await stream.next()).event, 'incomingCall', 'session events still come in order between them')
  stream.close()
})

t.test('SSE probe (?probe=1): ready and heartbeats, no session events, replaces nothing', async (t) => {
  const { url } = await startServer(t, { heartbeatMs: 100 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const live = await openStream(url, alice)
  const probe = new SseClient(url, { token: alice.token, query: 'probe=1' })
  await probe.opened
  t.equal(probe.status, 200)
  t.match(probe.headers['content-type'], /^text\/event-stream/)
  t.same(await probe.next(), { id: undefined, event: 'ready', data: { name: 'alice' } })
  await probe.nextHeartbeat(1)
  const callId = await ring(bob, alice)
  t.equal((await live.next()).event, 'incomingCall', 'the live stream still gets the session’s events')
  await sendCandidates(bob, callId, 0, 2)
  t.equal((await live.next()).event, 'iceCandidate')
  await probe.nextHeartbeat(probe.heartbeats.length)
  t.same(probe.events.map((e) => e.event), ['ready'], 'the probe got no session event')
  t.equal(live.events.filter((e) => e.event === 'replaced').length, 0, 'the live stream was not replaced')
  const unauthorized = new SseClient(url, { query: 'probe=1' })
  await unauthorized.opened
  t.equal(unauthorized.status, 401, 'a probe is authenticated like a stream')
  const bad = new SseClient(url, { token: alice.token, query: 'probe=yes' })
  await bad.opened
  t.equal(bad.status, 400)
  t.equal((await bad.errorBody()).error, 'invalid_query')
  probe.close()
  live.close()
})

t.test('SSE probe spelled ?probe=true: the same probe (no session event, replaces nothing)', async (t) => {
  const { url } = await startServer(t, { heartbeatMs: 100 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const live = await openStream(url, alice)
  const probe = new SseClient(url, { token: alice.token, query: 'probe=true' })
  await probe.opened
  t.equal(probe.status, 200)
  t.same(await probe.next(), { id: undefined, event: 'ready', data: { name: 'alice' } })
  await ring(bob, alice)
  t.equal((await live.next()).event, 'incomingCall', 'the live stream was not replaced')
  // A heartbeat written after the call: anything for the probe would have come before it.
  await probe.nextHeartbeat(probe.heartbeats.length)
  t.same(probe.events.map((e) => e.event), ['ready'], 'the probe got no session event')
  probe.close()
  live.close()
})

t.test('SSE: 401 without a valid token, 400 for a bad Last-Event-ID', async (t) => {
  const { url } = await startServer(t)
  const alice = await register(url, 'alice')
  const none = new SseClient(url)
  await none.opened
  t.equal(none.status, 401)
  t.equal((await none.errorBody()).error, 'unauthorized')
  const bad = new SseClient(url, { token: alice.token, lastEventId: 'abc' })
  await bad.opened
  t.equal(bad.status, 400)
  t.equal((await bad.errorBody()).error, 'invalid_query')
  const badQuery = new SseClient(url, { query: `token=${alice.token}&lastEventId=-1` })
  await badQuery.opened
  t.equal(badQuery.status, 400)
  t.equal((await badQuery.errorBody()).error, 'invalid_query')
})

t.test('an event sent while the recipient is disconnected arrives on resume with Last-Event-ID', async (t) => {
  const { url } = await startServer(t)
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const first = await openStream(url, bob)
  const callId = await ring(alice, bob)
  const incoming = await first.next()
  await sendCandidates(alice, callId, 1, 2)
  const c1 = await first.next()
  const c2 = await first.next()
  first.close()
  await first.ended
  await sendCandidates(alice, callId, 3, 2) // bob is offline

  const resumed = await openStream(url, bob, { lastEventId: c2.id })
  const c3 = await resumed.next()
  const c4 = await resumed.next()
  t.same([c3.data.candidate, c4.data.candidate], [candidate(3), candidate(4)], 'missed events, in order')
  t.ok(Number(incoming.id) < Number(c1.id) && Number(c2.id) < Number(c3.id) && Number(c3.id) < Number(c4.id), 'ids increase')
  resumed.close()
  await resumed.ended

  // The same resume through ?lastEventId= (EventSource cannot set headers on its first request).
  const byQuery = new SseClient(url, { query: `token=${bob.token}&lastEventId=${c3.id}` })
  await byQuery.next() // ready
  const again = await byQuery.next()
  t.equal(again.id, c4.id, 'replays what came after the given id only')
  byQuery.close()
})

t.test('a stream without Last-Event-ID starts from the oldest held event', async (t) => {
  const { url } = await startServer(t)
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const callId = await ring(alice, bob)
  await sendCandidates(alice, callId, 1, 3)
  const stream = await openStream(url, bob)
  const got = [await stream.next(), await stream.next(), await stream.next(), await stream.next()]
  t.same(got.map((e) => e.event), ['incomingCall', 'iceCandidate', 'iceCandidate', 'iceCandidate'])
  stream.close()
})

t.test('a second stream replaces the first, which is told and closed', async (t) => {
  const { url } = await startServer(t)
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const first = await openStream(url, bob)
  const second = await openStream(url, bob)
  t.same(await first.next(), { id: undefined, event: 'replaced', data: {} })
  await first.ended
  const callId = await ring(alice, bob)
  t.same((await second.next()).data.callId, callId, 'the newer stream receives')
  t.equal(first.events.filter((e) => e.event === 'incomingCall').length, 0, 'the older one does not')
  second.close()
})

t.test('long-poll: at once when events are held, on arrival, or [] after wait', async (t) => {
  const { url } = await startServer(t, { pollMaxWaitS: 1 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const callId = await ring(alice, bob)
  const first = await poll(bob, 'wait=30')
  t.equal(first.status, 200)
  t.equal(first.headers.get('cache-control'), 'no-store')
  t.same(first.body.events.map((e) => e.event), ['incomingCall'])
  t.same(first.body.events[0].data, { callId, from: 'alice', sdpOffer: offer })
  const after = first.body.events[0].id

  const waiting = poll(bob, `after=${after}&wait=30`)
  // The poll is parked; the candidate wakes it.
  await sendCandidates(alice, callId, 1, 1)
  const second = await waiting
  t.same(second.body.events.map((e) => e.data.candidate), [candidate(1)])

  const empty = await poll(bob, `after=${second.body.events[0].id}&wait=100`)
  t.same(empty.body, { events: [] }, 'wait over the maximum counts as the maximum (1 s here), then []')
  const now = await poll(bob, `after=${second.body.events[0].id}&wait=0`)
  t.same(now.body, { events: [] }, 'wait=0 answers at once')

  for (const query of ['wait=-1', 'wait=soon', 'after=x', 'after=-3']) {
    const bad = await poll(bob, query)
    t.equal(bad.status, 400, query)
    t.equal(bad.body.error, 'invalid_query', query)
  }
})

t.test('a stream replaces a waiting poll, and a poll replaces a stream', async (t) => {
  const { url, app } = await startServer(t)
  const bob = await register(url, 'bob')
  const waiting = poll(bob, 'wait=30')
  // Open the stream only once the poll is parked (else the poll would be the newer one).
  await until(async () => (await app.store.stats()).streams.poll > 0, 'the poll to be parked', { everyMs: 0 })
  const stream = new SseClient(url, { token: bob.token })
  // The poll answers once the stream has taken over.
  const replaced = await waiting
  t.same(replaced.body, { events: [], replaced: true })
  t.equal((await stream.next()).event, 'ready')
  const polled = await poll(bob, 'wait=0')
  t.same(polled.body, { events: [] })
  t.equal((await stream.next()).event, 'replaced')
  await stream.ended
})

t.test('switching SSE → poll → SSE → poll loses and duplicates nothing', async (t) => {
  const { url } = await startServer(t)
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const callId = await ring(alice, bob)
  const received: Array<{ id: string; event: string; data: any }> = []
  let last: string | undefined
  let n = 1
  for (let round = 0; round < 3; round++) {
    const stream = await openStream(url, bob, { lastEventId: last })
    await sendCandidates(alice, callId, n, 5)
    n += 5
    // Take some of what was sent, then drop the stream mid-way.
    for (let i = 0; i < (round === 0 ? 4 : 3); i++) {
      const e = await stream.next()
      received.push(e as any)
      last = e.id
    }
    stream.close()
    await stream.ended
    await sendCandidates(alice, callId, n, 3)
    n += 3
    const polled = await poll(bob, `${last ? `after=${last}&` : ''}wait=0`)
    received.push(...polled.body.events)
    last = polled.body.events.at(-1)?.id ?? last
  }
  const final = await poll(bob, `after=${last}&wait=0`)
  received.push(...final.body.events)
  const ids = received.map((e) => Number(e.id))
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]), 'ids strictly increase')
  t.same(received.filter((e) => e.event === 'iceCandidate').map((e) => e.data.candidate), Array.from({ length: n - 1 }, (_, i) => candidate(i + 1)), 'every candidate once, in order')
  t.equal(received[0].event, 'incomingCall')
})

t.test('a Last-Event-ID past anything sent never drops undelivered events', async (t) => {
  const { url } = await startServer(t)
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  await ring(alice, bob)
  const stream = await openStream(url, bob, { lastEventId: '999999' })
  t.equal((await stream.next()).event, 'incomingCall')
  stream.close()
})

t.test('a full mailbox share answers the sender 429 mailbox_full and stores nothing more', async (t) => {
  // One sender fills at most half of a mailbox: alice may hold 5 of bob's 10.
  const { url } = await startServer(t, { mailboxMaxEvents: 10 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const callId = await ring(alice, bob) // 1 event held
  await sendCandidates(alice, callId, 1, 4) // 5 held
  const full = await alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(5) })
  t.equal(full.status, 429)
  t.equal(full.body.error, 'mailbox_full')
  t.match(full.headers.get('retry-after'), /^\d+$/)
  const batch = await alice.post(`/v1/calls/${callId}/candidates`, { candidates: [candidate(5), candidate(6)] })
  t.equal(batch.status, 429, 'a batch is stored all or nothing')
  const got = await poll(bob, 'wait=0')
  t.equal(got.body.events.length, 5, 'exactly what was accepted')
  t.same(got.body.events.at(-1)!.data.candidate, candidate(4))
  const accepted = await alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(5) })
  t.equal(accepted.status, 202, 'room again once the recipient received')
})

t.test("a call ends over a full mailbox share: the hang-up is not refused and reaches the callee after what was held", async (t) => {
  const { url } = await startServer(t, { mailboxMaxEvents: 10 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const callId = await ring(alice, bob)
  const incoming = (await poll(bob, 'wait=0')).body.events
  t.equal((await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })).status, 200)
  // bob stops reading; alice trickles until her share of his mailbox is full (bounded: it holds 10).
  let held = 0
  for (; held < 10; held++) {
    const res = await alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(held) })
    if (res.status !== 202) {
      t.same([res.status, res.body.error], [429, 'mailbox_full'])
      break
    }
  }
  t.ok(held > 0 && held < 10, `alice's share filled after ${held} candidates`)
  t.equal((await alice.del(`/v1/calls/${callId}`)).status, 204, 'the hang-up is not refused')
  const got = (await poll(bob, `wait=0&after=${incoming.at(-1)!.id}`)).body.events
  t.same(got.filter((e) => e.event === 'iceCandidate').map((e) => e.data.candidate), Array.from({ length: held }, (_, n) => candidate(n)), 'every accepted candidate')
  t.match(got.at(-1), { event: 'stopCommunication', data: { callId, reason: 'hangup' } }, 'then the end')
  t.match((await bob.get(`/v1/calls/${callId}`)).body, { state: 'ended', endReason: 'hangup' })
})

t.test('the byte limit of a mailbox counts too', async (t) => {
  const { url } = await startServer(t, { mailboxMaxBytes: 2000 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const callId = await ring(alice, bob)
  const big = { candidate: `candidate:1 1 udp 1 127.0.0.1 9 typ host ${'x'.repeat(1900)}`, sdpMid: '0' }
  const res = await alice.post(`/v1/calls/${callId}/candidates`, { candidate: big })
  t.equal(res.status, 429)
  t.equal(res.body.error, 'mailbox_full')
})

t.test('a long healthy stream never fills up: written events leave the limit', async (t) => {
  const { url } = await startServer(t, { mailboxMaxEvents: 8, replayMaxEvents: 4 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const stream = await openStream(url, bob)
  const callId = await ring(alice, bob)
  await stream.next()
  for (let n = 1; n <= 40; n++) {
    await sendCandidates(alice, callId, n, 1)
    t.same((await stream.next()).data.candidate, candidate(n))
  }
  stream.close()
  await stream.ended
  // Only the replay window (4) is held for a resume without an id.
  const replay = await poll(bob, 'wait=0')
  t.same(replay.body.events.map((e) => e.data.candidate), [37, 38, 39, 40].map(candidate))
})

t.test('a client that stops reading is cut off, and its resume gets every accepted event in order', async (t) => {
  // Small unread allowance; room enough in the mailbox and replay window for what the socket swallowed.
  const big = 16 * 1024 * 1024
  const { url, app } = await startServer(t, {
    streamMaxUnreadBytes: 64 * 1024, mailboxMaxBytes: big, mailboxMaxEvents: 100_000, replayMaxBytes: big, replayMaxEvents: 100_000,
    maxCandidatesPerCall: 100_000, rateSendPerWindow: 1e9, maxCandidatesPerRequest: 100,
  })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const stream = await openStream(url, bob)
  const callId = await ring(alice, bob)
  await stream.next()
  stream.pause() // bob's browser hangs: the kernel's buffers fill, then sigpost's own allowance, then it is cut
  const padded = (n: number) => ({ candidate: `candidate:${n} 1 udp 1 127.0.0.1 9 typ host ${'x'.repeat(1900)}`, sdpMid: '0' })
  let sent = 0
  while (sent < 10_000) {
    const res = await alice.post(`/v1/calls/${callId}/candidates`, { candidates: Array.from({ length: 25 }, (_, k) => padded(sent + k)) })
    t.equal(res.status, 202)
    sent += 25
    // The cut is seen from the server's side: the stream's connection is gone from its count.
    if ((await app.store.stats()).streams.sse === 0) break
  }
  t.ok((await app.store.stats()).streams.sse === 0, `the non-reading stream was closed after ${sent} candidates`)
  stream.close()
  const resumed = await openStream(url, bob)
  const got: number[] = []
  while (got.length < sent) {
    const e = await resumed.next()
    if (e.event === 'iceCandidate') got.push(Number(/^candidate:(\d+) /.exec(e.data.candidate.candidate)![1]))
  }
  t.same(got, Array.from({ length: sent }, (_, n) => n), 'every accepted candidate arrives once, in order, on the resume')
  resumed.close()
})

t.test('SSE framing: multi-byte text, HTTP/1.0 clients, HEAD, and app.inject() all get well-formed streams', async (t) => {
  const { app, url } = await startServer(t)
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const stream = await openStream(url, bob)
  // Chunk sizes count bytes, not characters: a name and an SDP with multi-byte characters arrive whole.
  const sdp = { type: 'offer', sdp: 'v=0\r\ns=Zoë ☎ 通话 🎥\r\n' }
  const callId = (await alice.post('/v1/calls', { to: 'bob', sdpOffer: sdp })).body.callId
  t.same((await stream.nextOf('incomingCall')).data.sdpOffer, sdp, 'multi-byte text intact')

  // HEAD checks the token and headers and does not take the live stream's place.
  const head = await fetch(`${url}/v1/events`, { method: 'HEAD', headers: { authorization: `Bearer ${bob.token}` } })
  t.equal(head.status, 200)
  t.match(head.headers.get('content-type'), /^text\/event-stream/)
  await alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(1) })
  t.equal((await stream.nextOf('iceCandidate')).data.candidate.candidate, candidate(1).candidate, 'the stream still receives after a HEAD')

  // An HTTP/1.0 client (a proxy speaking 1.0 to its upstream) gets a body delimited by the connection's close.
  let reopened: Promise<SseClient> | undefined
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = createConnection(Number(new URL(url).port), '127.0.0.1', () => {
      socket.write(`GET /v1/events?token=${encodeURIComponent(bob.token)} HTTP/1.0\r\nHost: x\r\n\r\n`)
    })
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      text += chunk
      // Replaced by the stream reopened below: the server ends this one, then closes the connection.
      if (text.includes('event: ready')) reopened ??= openStream(url, bob)
    })
    socket.on('close', () => resolve(text))
    socket.on('error', reject)
  })
  t.match(raw, /^HTTP\/1\.1 200 OK\r\n/)
  t.notMatch(raw, /transfer-encoding/i, 'no chunked encoding for HTTP/1.0')
  t.match(raw, /\r\n\r\nretry: \d+\n\nevent: ready\n/)
  t.match(raw, /event: replaced\ndata: \{\}\n\n$/, 'ended with replaced, then closed')
  ;(await reopened)?.close()
  stream.close()

  // Without a real connection (inject), the stream goes through the response object.
  const injected = await app.inject({ method: 'GET', url: '/v1/events', headers: { authorization: `Bearer ${bob.token}` }, payloadAsStream: true })
  t.equal(injected.statusCode, 200)
  const first = await new Promise<string>((resolve) => injected.stream().once('data', (chunk: Buffer) => resolve(String(chunk))))
  t.match(first, /^retry: \d+\n\nevent: ready\ndata: \{"name":"bob"\}\n\n/)
  injected.stream().destroy()
})
