/**
 * Middleboxes that cut long-lived or idle responses, in real Chromium:
 * 1. a TCP proxy (one per person) that cuts every stream response (SSE or long-poll) 1.5 s after it
 *    started, and on demand at each step of the call set-up: nothing is lost (the client resumes from its
 *    last event id), and a hang-up sent while the callee's stream is down still arrives;
 * 2. nginx with `proxy_read_timeout 2s` in front of a server whose heartbeat is 4 s: every stream that is
 *    quiet for 2 s is cut, while ringing and during the call.
 */
import t from 'tap'
import type { Page } from 'playwright-core'
import { startServer } from '../helpers/server.js'
import { buildWeb, elementState, launchBrowser, openPeer } from '../helpers/browser.js'
import { startCutter, startNginx, type Cutter } from '../helpers/middleboxes.js'
import { until as bounded } from '../helpers/wait.js'
import { callConnectHangUp, register, transports } from './flow.js'

buildWeb()
const browser = await launchBrowser(t)

/** Resolves once `predicate()` holds; checked every 50 ms (a condition, never a fixed wait). */
async function until(predicate: () => boolean | Promise<boolean>): Promise<void> {
  await bounded(predicate, `${predicate}`, { everyMs: 50 })
}

/** Cuts the peer's stream as soon as it has one (it may be reconnecting right now). */
async function cutStream(cutter: Cutter): Promise<void> {
  await until(() => cutter.cutStreams() > 0)
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN)
}

t.test('a proxy that cuts every stream after 1.5 s and at every step: nothing is lost, a hang-up sent while the callee’s stream is down arrives', async (t) => {
  const server = await startServer(t, { logger: false })
  const target = server.url.replace('http://', '')
  const aliceCutter = await startCutter(t, target, { streamLifetimeMs: 1500 })
  const bobCutter = await startCutter(t, target, { streamLifetimeMs: 1500 })
  const alice = (await openPeer(t, browser, `${aliceCutter.url}/`, 'alice')).page
  const bob = (await openPeer(t, browser, `${bobCutter.url}/`, 'bob')).page
  await Promise.all([register(alice, 'alice-cut'), register(bob, 'bob-cut')])

  const setUpCuts = { alice: 0, bob: 0 }
  let inCallCuts = { alice: 0, bob: 0 }
  const cuts = () => ({ alice: aliceCutter.cuts().length, bob: bobCutter.cuts().length })
  let before = cuts()
  await callConnectHangUp(t, alice, bob, 'bob-cut', 'streams cut at every step and every 1.5 s (includes waiting for the cuts)', {
    // Cut both streams while it rings (bob's incomingCall was just delivered, alice waits for the answer)...
    ringing: async () => {
      await Promise.all([cutStream(aliceCutter), cutStream(bobCutter)])
    },
    // ...and right after bob accepts: alice's callResponse and both sides' candidates cross the cuts.
    accepted: async () => {
      await Promise.all([cutStream(aliceCutter), cutStream(bobCutter)])
      const now = cuts()
      setUpCuts.alice = now.alice - before.alice
      setUpCuts.bob = now.bob - before.bob
    },
    // During the call the streams keep being cut by the 1.5 s lifetime; the call goes on.
    inCall: async () => {
      const start = cuts()
      await until(() => cuts().alice >= start.alice + 2 && cuts().bob >= start.bob + 2)
      const now = cuts()
      inCallCuts = { alice: now.alice - start.alice, bob: now.bob - start.bob }
      t.equal(await elementState(alice), 'in-call', 'alice is still in the call after her stream was cut twice more')
      t.equal(await elementState(bob), 'in-call', 'bob too')
    },
    // Bob's network goes down (his stream is cut and every new connection held); alice hangs up; the
    // server holds stopCommunication for bob; his network comes back and the hang-up arrives.
    hangUp: async () => {
      bobCutter.hold()
      await until(() => bobCutter.held() > 0)
      await alice.locator('rtc-call').evaluate((element: any) => element.hangUp())
      t.ok((await metric(server.url, 'sigpost_mailbox_undelivered_events')) >= 1, 'the server holds the hang-up for bob while his stream is down')
      t.equal(await elementState(bob), 'in-call', 'bob has not heard of it yet')
      bobCutter.release()
    },
  })
  t.ok(setUpCuts.alice >= 2 && setUpCuts.bob >= 2, `streams were cut during set-up (alice ${setUpCuts.alice}, bob ${setUpCuts.bob})`)
  t.ok(inCallCuts.alice >= 2 && inCallCuts.bob >= 2, `and during the call (alice ${inCallCuts.alice}, bob ${inCallCuts.bob})`)
  t.comment(`stream cuts in all: alice ${aliceCutter.cuts().length}, bob ${bobCutter.cuts().length}; transports reported: alice ${JSON.stringify(await transports(alice))}, bob ${JSON.stringify(await transports(bob))}`)
  t.equal(await metric(server.url, 'sigpost_mailbox_undelivered_events'), 0, 'nothing is left undelivered')
  // SSE resumes with lastEventId, long-poll with after= (auto may stay on long-poll here: a probe cut
  // before its first heartbeat does not prove the path).
  const resumed = (cutter: Cutter) => cutter.requests.filter((r) => /^\/v1\/(events\?.*lastEventId|poll\?.*after)=\d+/.test(r.path)).length
  t.ok(resumed(aliceCutter) > 0 && resumed(bobCutter) > 0, `the streams resumed from their last event id (alice ${resumed(aliceCutter)}, bob ${resumed(bobCutter)} times)`)

  // Both are still registered and can call again through the same hostile proxies.
  before = cuts()
  await callConnectHangUp(t, bob, alice, 'alice-cut', 'second call through the cutting proxies')
})

t.test('nginx with proxy_read_timeout 2 s (< the 4 s heartbeat): quiet streams are cut while ringing and in the call', async (t) => {
  const server = await startServer(t, { logger: false, heartbeatMs: 4000 })
  const nginx = await startNginx(t, { upstreams: [server.url.replace('http://', '')], readTimeoutS: 2 })
  const timeouts = () => (nginx.errorLog().match(/upstream timed out .* request: "GET \/v1\/(events|poll)/g) ?? []).length
  const alice: Page = (await openPeer(t, browser, `${nginx.url}/`, 'alice')).page
  const bob: Page = (await openPeer(t, browser, `${nginx.url}/`, 'bob')).page
  await Promise.all([register(alice, 'alice-idle'), register(bob, 'bob-idle')])

  let whileRinging = 0
  let inCall = 0
  await callConnectHangUp(t, alice, bob, 'bob-idle', 'nginx proxy_read_timeout 2s (includes ringing until two idle cuts)', {
    // Bob lets it ring until both quiet streams have been cut by nginx (one each, at least).
    ringing: async () => {
      const start = timeouts()
      await until(() => timeouts() >= start + 2)
      whileRinging = timeouts() - start
    },
    inCall: async () => {
      const start = timeouts()
      await until(() => timeouts() >= start + 2)
      inCall = timeouts() - start
      t.equal(await elementState(alice), 'in-call')
      t.equal(await elementState(bob), 'in-call')
    },
  })
  t.ok(whileRinging >= 2, `nginx cut quiet streams while it rang (${whileRinging})`)
  t.ok(inCall >= 2, `and during the call (${inCall})`)
  t.comment(`nginx read time-outs in all: ${timeouts()}; transports reported: alice ${JSON.stringify(await transports(alice))}, bob ${JSON.stringify(await transports(bob))}`)
  t.equal(await metric(server.url, 'sigpost_mailbox_undelivered_events'), 0, 'nothing is left undelivered')
})
