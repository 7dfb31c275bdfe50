/**
 * Stream tickets and header auth on the stream endpoints: the session token never needs to be in a URL.
 * On the Redis store (test/stores/matrix.ts) a ticket minted on one instance opens a stream on another.
 */
import t from 'tap'
import { startServer } from '../helpers/server.js'
import { poll, register, request, SseClient, type Peer } from '../helpers/client.js'

async function ticket(p: Peer): Promise<string> {
  const res = await p.post('/v1/stream-tickets')
  if (res.status !== 201) throw new Error(`ticket: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.ticket
}

async function openWithTicket(url: string, value: string): Promise<SseClient> {
  const stream = new SseClient(url, { query: `ticket=${encodeURIComponent(value)}` })
  await stream.opened
  return stream
}

t.test('a ticket opens one stream, once; used or unknown is 401 unauthorized', async (t) => {
  const { url, log } = await startServer(t, { captureLog: true })
  const alice = await register(url, 'alice')
  const res = await alice.post('/v1/stream-tickets')
  t.equal(res.status, 201)
  t.equal(res.body.expiresInS, 60, 'STREAM_TICKET_TTL_S, default 60')
  t.match(res.body.ticket, /^[A-Za-z0-9_-]{43}$/, '256 random bits')
  t.not(res.body.ticket, alice.token, 'not the session token')
  t.equal(res.headers.get('cache-control'), 'no-store')

  const stream = await openWithTicket(url, res.body.ticket)
  t.equal(stream.status, 200)
  t.same(await stream.next(), { id: undefined, event: 'ready', data: { name: 'alice' } }, 'the ticket\'s session')
  stream.close()
  const reused = await openWithTicket(url, res.body.ticket)
  t.equal(reused.status, 401, 'a used ticket')
  t.equal((await reused.errorBody()).error, 'unauthorized')
  const unknown = await openWithTicket(url, 'x'.repeat(43))
  t.equal(unknown.status, 401, 'an unknown ticket')
  t.equal((await unknown.errorBody()).error, 'unauthorized')
  t.equal((await request(url, 'POST', '/v1/stream-tickets')).status, 401, 'minting needs a session')
  t.equal((await request(url, 'GET', `/v1/poll?wait=0&ticket=${await ticket(alice)}`)).status, 401, 'tickets open SSE streams, not polls')

  // HEAD with a ticket checks it and uses it up, like a GET (docs/http-api.md).
  const checked = await ticket(alice)
  const head = await fetch(`${url}/v1/events?ticket=${checked}`, { method: 'HEAD' })
  t.equal(head.status, 200, 'HEAD with a ticket')
  t.match(head.headers.get('content-type'), /^text\/event-stream/)
  const afterHead = await openWithTicket(url, checked)
  t.equal(afterHead.status, 401, 'a ticket used by a HEAD opens no stream')
  await afterHead.ended

  const gone = await ticket(alice)
  await alice.del('/v1/sessions/current')
  const afterEnd = await openWithTicket(url, gone)
  t.equal(afterEnd.status, 401, 'a ticket dies with its session')
  t.notOk(log.some((line) => line.includes(res.body.ticket) || line.includes(gone)), 'no ticket in the log')
})

t.test('a ticket expires after STREAM_TICKET_TTL_S', async (t) => {
  const { url } = await startServer(t, { streamTicketTtlS: 1 })
  const alice = await register(url, 'alice')
  const res = await alice.post('/v1/stream-tickets')
  t.equal(res.body.expiresInS, 1)
  // The lifetime is what is tested: wait it out once.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const late = await openWithTicket(url, res.body.ticket)
  t.equal(late.status, 401)
  t.equal((await late.errorBody()).error, 'unauthorized')
})

t.test('both stream endpoints take Authorization: Bearer; TOKEN_IN_URL=false refuses ?token=', async (t) => {
  const { url } = await startServer(t, { tokenInUrl: 'off' })
  const alice = await register(url, 'alice')
  const byHeader = new SseClient(url, { token: alice.token })
  await byHeader.opened
  t.equal(byHeader.status, 200, 'SSE with the header')
  t.equal((await byHeader.next()).event, 'ready')
  const polled = await poll(alice, 'wait=0')
  t.equal(polled.status, 200, 'long-poll with the header')
  t.same(polled.body.events, [])
  await byHeader.ended // the poll replaced the stream

  const sse = new SseClient(url, { query: `token=${alice.token}` })
  await sse.opened
  t.equal(sse.status, 401, '?token= on /v1/events')
  const body = await sse.errorBody()
  t.equal(body.error, 'unauthorized')
  t.match(body.message, /Authorization: Bearer/, 'the message says what to do instead')
  const long = await request(url, 'GET', `/v1/poll?wait=0&token=${alice.token}`)
  t.equal(long.status, 401, '?token= on /v1/poll')
  t.equal(long.body.error, 'unauthorized')
  const byTicket = await openWithTicket(url, await ticket(alice))
  t.equal(byTicket.status, 200, 'tickets still work')
  byTicket.close()

  const open = await startServer(t)
  const bob = await register(open.url, 'bob')
  const compat = new SseClient(open.url, { query: `token=${bob.token}` })
  await compat.opened
  t.equal(compat.status, 200, 'open mode keeps ?token= by default (compatibility)')
  compat.close()
})

t.test('with Redis, a ticket minted on one instance opens the stream on another', { skip: process.env.SIGPOST_TEST_STORE !== 'redis' && 'Redis store only' }, async (t) => {
  const a = await startServer(t)
  const b = await startServer(t, { redisUrl: a.app.config.redisUrl, redisPrefix: a.app.config.redisPrefix })
  const alice = await register(a.url, 'alice')
  const value = await ticket(alice)
  const stream = await openWithTicket(b.url, value)
  t.equal(stream.status, 200)
  t.equal((await stream.next()).data.name, 'alice')
  stream.close()
  const again = await openWithTicket(a.url, value)
  t.equal(again.status, 401, 'and it is used up for every instance')
})
