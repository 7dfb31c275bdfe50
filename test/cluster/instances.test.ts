/**
 * Several sigpost processes on one real redis-server: any request may land on any instance, and an
 * instance that dies (kill -9) takes nothing with it.
 */
import t from 'tap'
import { startCluster, type Instance } from '../helpers/instances.js'
import { until } from '../helpers/wait.js'
import { answer, candidate, offer, openStream, peer, poll, request, type Peer, type SseEvent } from '../helpers/client.js'

/** The same session, spoken to through another instance. */
function via(instance: Instance, p: Peer): Peer {
  return peer(instance.url, p.name, p.token)
}

async function registerAt(instance: Instance, name: string): Promise<Peer> {
  const res = await request(instance.url, 'POST', '/v1/sessions', { body: { name } })
  if (res.status !== 201) throw new Error(`register ${name}: ${res.status}`)
  return peer(instance.url, name, res.body.token)
}

t.test('a whole call with every step on a different instance', async (t) => {
  const [a, b, c] = await startCluster(t, 3)
  const alice = await registerAt(a, 'alice')
  const bob = await registerAt(b, 'bob')
  t.same((await via(c, alice).get('/v1/sessions')).body, { names: ['alice', 'bob'], next: null }, 'names are shared')
  t.equal((await request(c.url, 'POST', '/v1/sessions', { body: { name: 'bob' } })).body.error, 'name_taken')

  const bobIn = await openStream(b.url, bob) // bob streams from B
  const call = await via(c, alice).post('/v1/calls', { to: 'bob', sdpOffer: offer }) // alice calls from C
  const callId = call.body.callId
  t.same((await bobIn.next()).data, { callId, from: 'alice', sdpOffer: offer }, 'a stream on B receives what was posted on C')
  await via(a, alice).post(`/v1/calls/${callId}/candidates`, { candidate: candidate(1) })
  t.same((await bobIn.next()).data.candidate, candidate(1))
  t.equal((await via(a, bob).post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })).status, 200) // bob accepts on A
  const alicePoll = await poll(via(a, alice), 'wait=10') // alice polls A
  t.same(alicePoll.body.events.map((e) => e.event), ['callResponse'])
  t.same(alicePoll.body.events[0].data.sdpAnswer, answer)
  await via(b, bob).post(`/v1/calls/${callId}/candidates`, { candidates: [candidate(2), null] })
  const more = await poll(via(c, alice), `after=${alicePoll.body.events[0].id}&wait=10`) // then polls C
  t.same(more.body.events.map((e) => e.data.candidate), [candidate(2), null])
  t.match((await via(b, alice).get(`/v1/calls/${callId}`)).body, { state: 'active', caller: 'alice', callee: 'bob' })
  t.equal((await via(c, alice).del(`/v1/calls/${callId}`)).status, 204)
  t.same((await bobIn.nextOf('stopCommunication')).data, { callId, reason: 'hangup' })
  bobIn.close()
})

t.test('a stream on another instance replaces the first', async (t) => {
  const [a, b] = await startCluster(t, 2)
  const bob = await registerAt(a, 'bob')
  const first = await openStream(a.url, bob)
  const second = await openStream(b.url, bob)
  t.same(await first.next(), { id: undefined, event: 'replaced', data: {} })
  await first.ended
  second.close()
})

t.test('kill -9 the instance holding the callee\'s stream mid-setup: resume elsewhere, every event once, in order', async (t) => {
  const [a, b, c] = await startCluster(t, 3)
  const alice = await registerAt(a, 'alice')
  const bob = await registerAt(c, 'bob')
  const bobIn = await openStream(b.url, bob)
  const callId = (await via(a, alice).post('/v1/calls', { to: 'bob', sdpOffer: offer })).body.callId
  for (let n = 1; n <= 3; n++) await via(a, alice).post(`/v1/calls/${callId}/candidates`, { candidate: candidate(n) })
  const got: SseEvent[] = []
  for (let i = 0; i < 4; i++) got.push(await bobIn.next())
  await b.kill()
  await bobIn.ended
  // While bob is away, alice trickles on.
  for (let n = 4; n <= 6; n++) await via(c, alice).post(`/v1/calls/${callId}/candidates`, { candidate: candidate(n) })
  const resumed = await openStream(c.url, bob, { lastEventId: got.at(-1)!.id })
  for (let i = 0; i < 3; i++) got.push(await resumed.next())
  t.equal((await via(c, bob).post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })).status, 200)
  got.push(await resumed.next())
  const ids = got.map((e) => Number(e.id))
  t.ok(ids.every((id, i) => i === 0 || id === ids[i - 1] + 1), 'ids consecutive: none lost, none repeated')
  t.same(got.map((e) => e.event), ['incomingCall', ...Array(6).fill('iceCandidate'), 'startCommunication'])
  t.same(got.filter((e) => e.event === 'iceCandidate').map((e) => e.data.candidate), [1, 2, 3, 4, 5, 6].map(candidate))
  t.comment(`events expected 8, received ${got.length}, duplicates ${got.length - new Set(ids).size}`)
  const aliceEvents = await poll(via(a, alice), 'wait=10')
  t.equal(aliceEvents.body.events[0].data.response, 'accepted', 'the call completes')
  resumed.close()
})

t.test('kill -9 the instance holding the caller\'s long-poll: the next poll elsewhere gets everything', async (t) => {
  const [a, b] = await startCluster(t, 2)
  const alice = await registerAt(a, 'alice')
  const bob = await registerAt(a, 'bob')
  const callId = (await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })).body.callId
  const parked = poll(via(b, alice), 'wait=30').catch((error: Error) => error)
  // Once the poll is parked on B, B dies.
  await waitFor(async () => (await (await fetch(`${b.url}/metrics`)).text()).includes('sigpost_open_streams{transport="poll"} 1'))
  await b.kill()
  t.type(await parked, Error, 'the parked poll was cut')
  await bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer })
  await bob.post(`/v1/calls/${callId}/candidates`, { candidates: [candidate(1), candidate(2)] })
  const got = await poll(via(a, alice), 'wait=10')
  t.same(got.body.events.map((e) => e.event), ['callResponse', 'iceCandidate', 'iceCandidate'])
  t.same(got.body.events.map((e) => Number(e.id)), [1, 2, 3])
})

t.test('ring time-out and grace expiry fire after the instance that started them is killed', async (t) => {
  // bob streams from A, so his session's lease is renewed by A's heartbeats until A dies. Timers fire in
  // the order of their due times, and the ring time-out is due long before bob's lease runs out.
  const [a, b] = await startCluster(t, 2, { RING_TIMEOUT_MS: '300', GRACE_MS: '600', HEARTBEAT_MS: '200' })
  const alice = await registerAt(a, 'alice')
  const bob = await registerAt(a, 'bob')
  const aliceIn = await openStream(b.url, alice)
  const bobIn = await openStream(a.url, bob)
  const callId = (await alice.post('/v1/calls', { to: 'bob', sdpOffer: offer })).body.callId
  await bobIn.next()
  await a.kill() // the instance that created the call, both sessions, and holds bob's stream
  t.same((await aliceIn.nextOf('stopCommunication')).data, { callId, reason: 'no_answer' }, 'ring time-out fired on B')
  // bob's stream died with A: his session expires once its lease and grace are over, on B.
  await waitFor(async () => (await via(b, bob).get('/v1/sessions')).status === 401)
  t.same((await via(b, alice).get('/v1/sessions')).body, { names: ['alice'], next: null }, 'bob expired; alice, streaming from B, did not')
  aliceIn.close()
})

t.test('rate limits hold across instances', async (t) => {
  const [a, b] = await startCluster(t, 2, { RATE_SEND_PER_WINDOW: '3', RATE_REGISTER_PER_WINDOW: '1000' })
  const alice = await registerAt(a, 'alice')
  await registerAt(b, 'bob')
  const statuses = []
  for (const instance of [a, b, a, b]) {
    statuses.push((await via(instance, alice).post('/v1/calls', { to: 'nobody', sdpOffer: offer })).status)
  }
  t.same(statuses, [404, 404, 404, 429], 'the fourth send is limited, though the instances took turns')
})

/** For state behind a server-side timer in another process: re-check, never a fixed sleep. */
async function waitFor(check: () => Promise<boolean>): Promise<void> {
  await until(check, `${check}`)
}
