/**
 * Two sigpost instances on one Redis behind nginx's default round-robin, with no stickiness: consecutive
 * requests of one client land on different instances, and calls work, at the HTTP level and in Chromium.
 */
import t from 'tap'
import { startCluster } from '../helpers/instances.js'
import { startNginx } from '../helpers/middleboxes.js'
import { buildWeb, launchBrowser, openPeer } from '../helpers/browser.js'
import { answer, candidate, offer, openStream, poll, register, request } from '../helpers/client.js'
import { callConnectHangUp, register as registerPage } from '../proxies/flow.js'

buildWeb()

t.test('a whole HTTP-level call through round-robin, each request wherever nginx sends it', async (t) => {
  const [a, b] = await startCluster(t, 2)
  // $upstream_addr names the instance that answered each request.
  const nginx = await startNginx(t, { upstreams: [a.url, b.url], extra: 'add_header X-Upstream $upstream_addr always;' })
  const served: string[] = []
  const through = async <T>(pending: Promise<{ headers: Headers } & T>) => {
    const res = await pending
    served.push(res.headers.get('x-upstream') ?? '?')
    return res
  }
  const alice = await register(nginx.url, 'alice')
  const bob = await register(nginx.url, 'bob')
  const bobIn = await openStream(nginx.url, bob)
  const call = await through(alice.post('/v1/calls', { to: 'bob', sdpOffer: offer }))
  const callId = call.body.callId
  t.same((await bobIn.next()).data.from, 'alice')
  await through(alice.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(1) }))
  t.same((await bobIn.next()).data.candidate, candidate(1))
  await through(bob.post(`/v1/calls/${callId}/accept`, { sdpAnswer: answer }))
  const got = await through(poll(alice, 'wait=10'))
  t.same(got.body.events.map((e) => e.event), ['callResponse'])
  await through(bob.post(`/v1/calls/${callId}/candidates`, { candidates: [candidate(2), null] }))
  const more = await through(poll(alice, `after=${got.body.events[0].id}&wait=10`))
  t.same(more.body.events.map((e) => e.data.candidate), [candidate(2), null])
  t.match((await through(alice.get(`/v1/calls/${callId}`))).body, { state: 'active' })
  await through(alice.del(`/v1/calls/${callId}`))
  t.same((await bobIn.nextOf('stopCommunication')).data, { callId, reason: 'hangup' })
  t.equal(new Set(served).size, 2, `both instances served the call (${served.join(' ')})`)
  t.ok(served.every((u, i) => i === 0 || u !== served[i - 1]), 'no stickiness: consecutive requests alternate')
  t.equal((await request(nginx.url, 'GET', '/readyz')).status, 200)
  bobIn.close()
})

t.test('a Chromium two-page call through round-robin over two instances', async (t) => {
  const [a, b] = await startCluster(t, 2)
  const nginx = await startNginx(t, { upstreams: [a.url, b.url] })
  const browser = await launchBrowser(t)
  const alice = await openPeer(t, browser, `${nginx.url}/`, 'alice')
  const bob = await openPeer(t, browser, `${nginx.url}/`, 'bob')
  await Promise.all([registerPage(alice.page, 'alice-rr'), registerPage(bob.page, 'bob-rr')])
  await callConnectHangUp(t, alice.page, bob.page, 'bob-rr', 'nginx round-robin over two instances on Redis')
})
