/**
 * Blocking and the redial cool-down (docs/http-api.md "Blocking and call spam"), on the store SIGPOST_TEST_STORE
 * names (test/stores/matrix.ts: Redis).
 */
import t from 'tap'
import { startServer } from '../helpers/server.js'
import { until } from '../helpers/wait.js'
import { answer, offer, poll, register, request, type Peer } from '../helpers/client.js'

const call = (from: Peer, to: string) => from.post('/v1/calls', { to, sdpOffer: offer })

t.test('a blocked name gets 404 peer_not_found, as if no one were there; a block wins over busy', async (t) => {
  const { url } = await startServer(t)
  const alice = await register(url, 'alice')
  const mallory = await register(url, 'mallory')
  const bob = await register(url, 'bob')
  t.equal((await alice.post('/v1/blocks', { name: 'mallory' })).status, 204)
  t.equal((await alice.post('/v1/blocks', { name: 'mallory' })).status, 204, 'idempotent')
  t.equal((await alice.post('/v1/blocks', { name: 'not-registered' })).status, 204, 'any name can be blocked')
  t.same((await alice.get('/v1/blocks')).body, { names: ['mallory', 'not-registered'] })

  const blocked = await call(mallory, 'alice')
  const absent = await call(mallory, 'nobody')
  t.equal(blocked.status, 404)
  t.equal(blocked.body.error, 'peer_not_found')
  t.equal(blocked.body.message, absent.body.message.replace('nobody', 'alice'), 'the same answer as for an absent name')
  const honest = await call(bob, 'alice')
  t.equal(honest.status, 201, 'others still get through')
  t.equal((await call(mallory, 'alice')).body.error, 'peer_not_found', 'a block wins over busy')
  await bob.del(`/v1/calls/${honest.body.callId}`)
  t.same((await poll(alice, 'wait=0')).body.events.filter((e) => e.data.from === 'mallory'), [], 'alice never heard of mallory\'s calls')

  t.equal((await alice.del('/v1/blocks/mallory')).status, 204)
  t.equal((await alice.del('/v1/blocks/mallory')).status, 204, 'idempotent')
  t.same((await alice.get('/v1/blocks')).body, { names: ['not-registered'] })
  t.equal((await call(mallory, 'alice')).status, 201, 'unblocked: the call rings')

  for (const [what, res] of [
    ['no token', await request(url, 'GET', '/v1/blocks')],
    ['no token on POST', await request(url, 'POST', '/v1/blocks', { body: { name: 'x' } })],
  ] as const) {
    t.equal(res.status, 401, what)
    t.equal(res.body.error, 'unauthorized', what)
  }
  const bad = await alice.post('/v1/blocks', { name: 'not a name' })
  t.equal(bad.body.error, 'invalid_name')
  t.equal((await alice.post('/v1/blocks', {})).body.error, 'invalid_body')
  t.equal((await alice.del('/v1/blocks/a%20b')).body.error, 'invalid_name')
})

t.test('reject with block: true; blocks last for the session; MAX_BLOCKS_PER_SESSION', async (t) => {
  const { url } = await startServer(t, { maxBlocksPerSession: 2, redialCooldownMs: 0 })
  const alice = await register(url, 'alice')
  const mallory = await register(url, 'mallory')
  const placed = await call(mallory, 'alice')
  const rejected = await alice.post(`/v1/calls/${placed.body.callId}/reject`, { reason: 'declined', block: true })
  t.equal(rejected.status, 200)
  t.equal(rejected.body.state, 'ended')
  const told = (await poll(mallory, 'wait=0')).body.events.find((e) => e.event === 'callResponse')
  t.match(told?.data, { response: 'rejected', message: 'declined' }, 'the caller is told of a plain reject')
  t.same((await alice.get('/v1/blocks')).body, { names: ['mallory'] })
  t.equal((await call(mallory, 'alice')).body.error, 'peer_not_found')

  t.equal((await alice.post('/v1/blocks', { name: 'x1' })).status, 204)
  const over = await alice.post('/v1/blocks', { name: 'x2' })
  t.equal(over.status, 429)
  t.equal(over.body.error, 'block_limit')
  t.equal((await alice.post('/v1/blocks', { name: 'x1' })).status, 204, 'blocking a blocked name again is fine at the limit')

  await alice.del('/v1/sessions/current')
  const again = await register(url, 'alice')
  t.same((await again.get('/v1/blocks')).body, { names: [] }, 'a new session starts with no blocks')
  t.equal((await call(mallory, 'alice')).status, 201)
})

t.test('redial cool-down after a rejected or unanswered call, not after a cancelled one', async (t) => {
  const { url } = await startServer(t, { ringTimeoutMs: 300 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const carol = await register(url, 'carol')

  const first = await call(carol, 'alice')
  await alice.post(`/v1/calls/${first.body.callId}/reject`, {})
  const redial = await call(carol, 'alice')
  t.equal(redial.status, 429, 'a rejected call: no redial')
  t.equal(redial.body.error, 'rate_limited')
  const retry = Number(redial.headers.get('retry-after'))
  t.ok(retry >= 1 && retry <= 15, `Retry-After ${retry} s (REDIAL_COOLDOWN_MS 15000)`)
  const other = await call(carol, 'bob')
  t.equal(other.status, 201, 'other names can still be called')
  await carol.del(`/v1/calls/${other.body.callId}`)
  t.equal((await call(carol, 'bob')).status, 201, 'a cancelled call costs no cool-down')
  await bob.del(`/v1/calls/${(await poll(bob, 'wait=0')).body.events.filter((e) => e.event === 'incomingCall').at(-1)!.data.callId}`)
  t.equal((await call(carol, 'bob')).status, 429, 'the callee\'s DELETE while ringing counts as a reject')

  const unanswered = await call(bob, 'alice')
  t.equal(unanswered.status, 201)
  // Wait for the ring time-out as bob sees it.
  let after = ''
  await until(async () => {
    const res = await poll(bob, `wait=5${after}`)
    if (res.body.events.length) after = `&after=${res.body.events.at(-1)!.id}`
    return res.body.events.some((e) => e.event === 'stopCommunication' && e.data.reason === 'no_answer')
  }, "bob's stopCommunication no_answer", { everyMs: 0 })
  t.equal((await call(bob, 'alice')).body.error, 'rate_limited', 'an unanswered call: no redial')
  t.equal((await call(alice, 'bob')).status, 201, 'the cool-down is one way: the callee may call back')

  const accepted = await startServer(t)
  const x = await register(accepted.url, 'x')
  const y = await register(accepted.url, 'y')
  const c = await call(x, 'y')
  await y.post(`/v1/calls/${c.body.callId}/accept`, { sdpAnswer: answer })
  await y.del(`/v1/calls/${c.body.callId}`)
  t.equal((await call(x, 'y')).status, 201, 'an answered call costs no cool-down')
})

t.test('the cool-down ends after REDIAL_COOLDOWN_MS', async (t) => {
  const { url } = await startServer(t, { redialCooldownMs: 300 })
  const alice = await register(url, 'alice')
  const carol = await register(url, 'carol')
  const first = await call(carol, 'alice')
  await alice.post(`/v1/calls/${first.body.callId}/reject`, {})
  t.equal((await call(carol, 'alice')).status, 429)
  let status = 429
  await until(async () => (status = (await call(carol, 'alice')).status) !== 429, 'the cool-down to end', { everyMs: 50 })
  t.equal(status, 201, 'carol can call again')
})
