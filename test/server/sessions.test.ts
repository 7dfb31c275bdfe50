import t from 'tap'
import { startServer } from '../helpers/server.js'
import { until } from '../helpers/wait.js'
import { openStream, register, request } from '../helpers/client.js'

t.test('register: 201 with a secret token, ICE servers and timings', async (t) => {
  const { url } = await startServer(t, { graceMs: 5000, heartbeatMs: 1000 })
  const res = await request(url, 'POST', '/v1/sessions', { body: { name: 'alice' } })
  t.equal(res.status, 201)
  t.equal(res.body.name, 'alice')
  t.match(res.body.token, /^[A-Za-z0-9_-]{43}$/, '256 random bits, base64url')
  t.same(res.body.iceServers, [])
  t.equal(res.body.heartbeatMs, 1000)
  t.equal(res.body.graceMs, 5000)
  const other = await request(url, 'POST', '/v1/sessions', { body: { name: 'bob' } })
  t.not(other.body.token, res.body.token, 'tokens differ')
})

t.test('register: the name grammar answers invalid_name', async (t) => {
  const { url } = await startServer(t)
  for (const name of ['', '-alice', '.x', 'a b', 'ålice', 'a/b', 'x'.repeat(65), '_x']) {
    const res = await request(url, 'POST', '/v1/sessions', { body: { name } })
    t.equal(res.status, 400, JSON.stringify(name))
    t.equal(res.body.error, 'invalid_name', JSON.stringify(name))
    t.type(res.body.message, 'string')
  }
  for (const name of ['a', 'A.b_c-9', '9lives', 'x'.repeat(64)]) {
    const res = await request(url, 'POST', '/v1/sessions', { body: { name } })
    t.equal(res.status, 201, name)
  }
})

t.test('register: a missing or mistyped name is invalid_body; extra fields are ignored', async (t) => {
  const { url } = await startServer(t)
  for (const body of [{}, { name: 42 }, { name: null }, { name: ['a'] }, [], 'alice']) {
    const res = await request(url, 'POST', '/v1/sessions', { body })
    t.equal(res.status, 400, JSON.stringify(body))
    t.equal(res.body.error, 'invalid_body', JSON.stringify(body))
  }
  const res = await request(url, 'POST', '/v1/sessions', { body: { name: 'carol', admin: true, token: 'mine' } })
  t.equal(res.status, 201)
  t.not(res.body.token, 'mine')
})

t.test('register: a held name is 409 name_taken; list and DELETE', async (t) => {
  const { url } = await startServer(t)
  const alice = await register(url, 'alice')
  const taken = await request(url, 'POST', '/v1/sessions', { body: { name: 'alice' } })
  t.equal(taken.status, 409)
  t.equal(taken.body.error, 'name_taken')
  await register(url, 'bob')
  t.same((await alice.get('/v1/sessions')).body, { names: ['alice', 'bob'], next: null })

  const unauth = await request(url, 'GET', '/v1/sessions')
  t.equal(unauth.status, 401)
  t.equal(unauth.body.error, 'unauthorized')
  const wrong = await request(url, 'GET', '/v1/sessions', { token: 'x'.repeat(43) })
  t.equal(wrong.status, 401)
  const queryToken = await request(url, 'GET', `/v1/sessions?token=${alice.token}`)
  t.equal(queryToken.status, 401, '?token= is for the stream endpoints only')

  t.equal((await alice.del('/v1/sessions/current')).status, 204)
  t.equal((await alice.get('/v1/sessions')).status, 401, 'the token dies with its session')
  t.equal((await request(url, 'POST', '/v1/sessions', { body: { name: 'alice' } })).status, 201, 'the name is free again')
})

t.test('a session lives while a stream is attached and for graceMs after', async (t) => {
  const { url } = await startServer(t, { graceMs: 300 })
  const alice = await register(url, 'alice')
  const bob = await register(url, 'bob')
  const stream = await openStream(url, alice)
  // bob never attaches a stream: his session ends graceMs after creation.
  await waitUntil(async () => (await bob.get('/v1/sessions')).status === 401)
  t.same((await alice.get('/v1/sessions')).body, { names: ['alice'], next: null }, 'alice is kept alive by her stream')
  stream.close()
  await stream.ended
  await waitUntil(async () => (await alice.get('/v1/sessions')).status === 401)
  t.equal((await request(url, 'POST', '/v1/sessions', { body: { name: 'alice' } })).status, 201, 'the name is free after grace')
})

/** Polls a condition that depends on a server-side timer (grace); never a fixed sleep. */
export async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  await until(check, 'the grace to expire', { everyMs: 20 })
}
