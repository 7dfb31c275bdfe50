/**
 * No single Redis: a primary, a replica and three sentinels (real redis-server / redis-sentinel
 * processes), two sigpost instances on Sentinel with REDIS_MIN_REPLICAS=1, and kill -9 of the primary
 * in the middle of a call. Clients see 503 while it lasts and retry with their Idempotency-Key; every
 * candidate that got a 2xx arrives exactly once, in order, on streams that stayed open.
 */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { startSentinelCluster, type Instance } from '../helpers/instances.js'
import { startSentinelGroup } from '../helpers/sentinel.js'
import { startServer } from '../helpers/server.js'
import { until } from '../helpers/wait.js'
import { answer, candidate, offer, openStream, peer, register, request, type Peer, type Res, type SseClient, type SseEvent } from '../helpers/client.js'

async function registerAt(instance: Instance, name: string): Promise<Peer> {
  const res = await request(instance.url, 'POST', '/v1/sessions', { body: { name } })
  if (res.status !== 201) throw new Error(`register ${name}: ${res.status}`)
  return peer(instance.url, name, res.body.token)
}

/**
 * A client that retries a send until it is acknowledged, as docs/http-api.md tells clients to: the same
 * Idempotency-Key on every attempt, the instances taken in turn, a short back-off after a 503.
 */
function sender(instances: Instance[], statuses: number[]) {
  let turn = 0
  return async (p: Peer, method: string, path: string, body?: unknown): Promise<Res> => {
    const headers = { 'idempotency-key': randomUUID() }
    // Bounded: a failover takes seconds; 1200 attempts with a 50 ms back-off is over a minute.
    for (let attempt = 1; ; attempt++) {
      const instance = instances[turn++ % instances.length]
      const res = await request(instance.url, method, path, { token: p.token, body, headers })
      statuses.push(res.status)
      if (res.status < 500) return res
      if (attempt >= 1200) throw new Error(`${method} ${path}: still ${res.status} after ${attempt} attempts on every instance`)
      await new Promise((resolve) => setTimeout(resolve, 50)) // a client's back-off, not a wait for an event
    }
  }
}

/** Re-checks state held by other processes (Redis, the sentinels); never a fixed sleep. */
async function waitFor(check: () => Promise<boolean>): Promise<void> {
  await until(check, `${check}`)
}

/** The next event that is not a heartbeat. */
async function nextEvent(stream: SseClient): Promise<SseEvent> {
  for (;;) {
    const e = await stream.next()
    if (e.event !== 'heartbeat') return e
  }
}

/** Reads a stream until `last` matches; returns everything read. */
async function readUntil(stream: SseClient, last: (e: SseEvent) => boolean): Promise<SseEvent[]> {
  const got: SseEvent[] = []
  for (;;) {
    const e = await stream.next()
    if (e.event === 'heartbeat') continue
    got.push(e)
    if (last(e)) return got
  }
}

t.test('kill -9 of the primary mid-call: every acknowledged candidate arrives once, in order (REDIS_MIN_REPLICAS=1)', async (t) => {
  const t0 = Date.now()
  const { group, instances } = await startSentinelCluster(t, 2, { REDIS_MIN_REPLICAS: '1' })
  t.comment(`cluster up after ${Date.now() - t0} ms`)
  const [a, b] = instances
  const alice = await registerAt(a, 'alice')
  const bob = await registerAt(b, 'bob')
  const aliceIn = await openStream(b.url, alice)
  const bobIn = await openStream(a.url, bob)
  const statuses: number[] = []
  const send = sender(instances, statuses)
  const callId = (await send(alice, 'POST', '/v1/calls', { to: 'bob', sdpOffer: offer })).body.callId
  t.equal((await send(bob, 'POST', `/v1/calls/${callId}/accept`, { sdpAnswer: answer })).status, 200)

  // Steady trickle both ways, each candidate retried until acknowledged, until told to stop.
  const acked = { alice: 0, bob: 0 }
  let stop = false
  let progress: () => void = () => {}
  const trickle = async (from: Peer, side: 'alice' | 'bob') => {
    for (let n = 1; !stop; n++) {
      const res = await send(from, 'POST', `/v1/calls/${callId}/candidates`, { candidate: candidate(n) })
      if (res.status !== 202) throw new Error(`candidate ${n}: ${res.status} ${JSON.stringify(res.body)}`)
      acked[side] = n
      progress()
    }
  }
  const until = (count: () => boolean) => new Promise<void>((resolve) => {
    const check = () => { if (count()) resolve() }
    const previous = progress
    progress = () => { previous(); check() }
    check()
  })
  const loops = Promise.all([trickle(alice, 'alice'), trickle(bob, 'bob')])
  // Awaited below; if an earlier step fails, its rejection must fail this test, not crash the file.
  loops.catch(() => {})
  await until(() => acked.alice >= 10 && acked.bob >= 10)

  t.comment(`traffic running after ${Date.now() - t0} ms`)
  const started = Date.now()
  const { port: old, promoted } = await group.killPrimary()
  const failedAt = statuses.length
  const newPrimary = await promoted
  t.comment(`promoted after ${Date.now() - started} ms`)
  t.not(newPrimary, old, `the sentinels promoted the replica (${old} → ${newPrimary})`)
  // The promoted primary has no replica yet: with REDIS_MIN_REPLICAS=1 nothing can be acknowledged.
  const notReady = await request(a.url, 'GET', '/readyz')
  t.same([notReady.status, notReady.body.error], [503, 'store_unavailable'], '/readyz: not ready without a replica')
  await group.rejoin(old)
  await waitFor(async () => (await request(a.url, 'GET', '/readyz')).status === 200 && (await request(b.url, 'GET', '/readyz')).status === 200)
  t.comment(`rejoined and ready after ${Date.now() - started} ms`)
  const before = { ...acked }
  await until(() => acked.alice >= before.alice + 10 && acked.bob >= before.bob + 10)
  stop = true
  await loops
  t.comment(`traffic done after ${Date.now() - started} ms`)

  const during = statuses.slice(failedAt)
  t.ok(during.includes(503), `clients saw 503 during the failover (${during.filter((s) => s === 503).length} of ${during.length} attempts)`)
  t.same([...new Set(statuses)].filter((s) => s !== 503 && (s < 200 || s >= 300)), [], 'no answer other than 2xx and 503 (never another 5xx, never a dropped connection)')

  // The call completes: end-of-candidates both ways, then alice hangs up.
  await send(bob, 'POST', `/v1/calls/${callId}/candidates`, { candidate: null })
  await send(alice, 'POST', `/v1/calls/${callId}/candidates`, { candidate: null })
  t.equal((await send(alice, 'DELETE', `/v1/calls/${callId}`)).status, 204)

  const toBob = await readUntil(bobIn, (e) => e.event === 'stopCommunication')
  const toAlice = await readUntil(aliceIn, (e) => e.event === 'iceCandidate' && e.data.candidate === null)
  const expected = (count: number) => [...Array.from({ length: count }, (_, i) => candidate(i + 1)), null]
  const bobCandidates = toBob.filter((e) => e.event === 'iceCandidate').map((e) => e.data.candidate)
  const aliceCandidates = toAlice.filter((e) => e.event === 'iceCandidate').map((e) => e.data.candidate)
  t.equal(bobCandidates.length, acked.alice + 1, `bob got as many candidates as alice had acknowledged (${acked.alice} + end-of-candidates)`)
  t.same(bobCandidates, expected(acked.alice), 'each once, in order')
  t.equal(aliceCandidates.length, acked.bob + 1, `alice got as many candidates as bob had acknowledged (${acked.bob} + end-of-candidates)`)
  t.same(aliceCandidates, expected(acked.bob), 'each once, in order')
  t.same(toBob.map((e) => e.event), ['incomingCall', 'startCommunication', ...Array(acked.alice + 1).fill('iceCandidate'), 'stopCommunication'], 'bob: nothing else, nothing twice')
  t.same(toAlice.map((e) => e.event), ['callResponse', ...Array(acked.bob + 1).fill('iceCandidate')], 'alice: nothing else, nothing twice')
  for (const events of [toBob, toAlice]) {
    const ids = events.map((e) => Number(e.id))
    t.ok(ids.every((id, i) => i === 0 || id === ids[i - 1] + 1), 'ids consecutive on a stream that stayed open across the failover')
  }
  t.comment(`read after ${Date.now() - t0} ms`)
  aliceIn.close()
  bobIn.close()
})

t.test('ring time-out and grace expiry due during the failover fire once, on the new primary', async (t) => {
  // Streams renew their sessions' leases every heartbeat (lease 2 × 10 s + grace 3 s): far longer than the
  // outage, also on a loaded machine (with 3 s heartbeats a slow failover and rejoin outlasted dave's
  // 9 s lease once), so only carol, who never streams, expires.
  const { group, instances } = await startSentinelCluster(t, 2, { REDIS_MIN_REPLICAS: '1', RING_TIMEOUT_MS: '1500', GRACE_MS: '3000', HEARTBEAT_MS: '10000' })
  const [a, b] = instances
  const statuses: number[] = []
  const send = sender(instances, statuses)
  const [alice, bob, dave, erin] = await Promise.all(['alice', 'bob', 'dave', 'erin'].map((name, i) => registerAt(instances[i % 2], name)))
  const aliceIn = await openStream(b.url, alice)
  const bobIn = await openStream(a.url, bob)
  const daveIn = await openStream(a.url, dave)
  const erinIn = await openStream(b.url, erin)
  // dave is in a call with carol, whose session never gets a stream: it expires GRACE_MS after registering.
  const carol = await registerAt(b, 'carol')
  const daveCall = (await send(dave, 'POST', '/v1/calls', { to: 'carol', sdpOffer: offer })).body.callId
  await send(carol, 'POST', `/v1/calls/${daveCall}/accept`, { sdpAnswer: answer })
  t.equal((await nextEvent(daveIn)).event, 'callResponse')
  // alice calls bob, who never answers: the ring time-out is due while the primary is being replaced.
  const ringing = (await send(alice, 'POST', '/v1/calls', { to: 'bob', sdpOffer: offer })).body.callId
  t.equal((await nextEvent(bobIn)).event, 'incomingCall')

  const { port: old, promoted } = await group.killPrimary()
  await promoted
  await group.rejoin(old)

  t.same((await nextEvent(aliceIn)).data, { callId: ringing, reason: 'no_answer' }, 'the caller: no_answer')
  t.same((await nextEvent(bobIn)).data, { callId: ringing, reason: 'no_answer' }, 'the callee: no_answer')
  t.same((await nextEvent(daveIn)).data, { callId: daveCall, reason: 'peer_gone' }, 'carol expired: her peer is told')
  await waitFor(async () => (await request(a.url, 'GET', '/v1/sessions', { token: carol.token })).status === 401)
  // Once: the next event on each stream is the next thing that happens, not a second notice.
  const next = (await send(bob, 'POST', '/v1/calls', { to: 'alice', sdpOffer: offer })).body.callId
  t.match(await nextEvent(aliceIn), { event: 'incomingCall', data: { callId: next, from: 'bob' } }, 'alice: no second no_answer')
  await send(alice, 'DELETE', `/v1/calls/${next}`)
  t.match(await nextEvent(bobIn), { event: 'callResponse', data: { callId: next, response: 'rejected' } }, 'bob: no second no_answer')
  const erinCall = (await send(erin, 'POST', '/v1/calls', { to: 'dave', sdpOffer: offer })).body.callId
  t.match(await nextEvent(daveIn), { event: 'incomingCall', data: { callId: erinCall, from: 'erin' } }, 'dave: no second peer_gone')
  t.same([...new Set(statuses)].filter((s) => s >= 500 && s !== 503), [], 'no 5xx other than 503')
  for (const stream of [aliceIn, bobIn, daveIn, erinIn]) stream.close()
})

t.test('a replica that stops confirming: 503 with Retry-After, /readyz says so, the retry relays once', async (t) => {
  const group = await startSentinelGroup(t)
  const { url } = await startServer(t, {
    redisSentinels: group.sentinels.split(','), redisSentinelName: group.name, redisMinReplicas: 1,
    redisWaitTimeoutMs: 200, redisPrefix: `w-${randomUUID()}:`,
  })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const bobIn = await openStream(url, bob)
  const callId = (await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })).body.callId
  t.equal((await nextEvent(bobIn)).event, 'incomingCall')
  const primary = await group.primaryPort()
  const replica = [...group.servers.values()].find((server) => server.port !== primary)!
  replica.process.kill('SIGSTOP')
  const send = () => request(url, 'POST', `/v1/calls/${callId}/candidates`, { token: alice.token, body: { candidate: candidate(1) }, headers: { 'idempotency-key': 'c1' } })
  const refused = await send()
  t.same([refused.status, refused.body.error], [503, 'store_unavailable'], 'not acknowledged: the replica did not confirm')
  t.match(refused.headers.get('retry-after'), /^\d+$/)
  await waitFor(async () => (await request(url, 'GET', '/readyz')).status === 503)
  replica.process.kill('SIGCONT')
  await waitFor(async () => (await request(url, 'GET', '/readyz')).status === 200)
  t.equal((await send()).status, 202, 'the retry with the same key is acknowledged')
  t.equal((await alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(2) })).status, 202)
  t.same([(await nextEvent(bobIn)).data.candidate, (await nextEvent(bobIn)).data.candidate], [candidate(1), candidate(2)], 'candidate 1 once, then candidate 2')
  bobIn.close()
})
