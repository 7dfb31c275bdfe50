/**
 * The Store contract as one executable specification (server/store/types.ts's doc comments, and
 * docs/http-api.md's delivery promise, missed calls, blocks, cool-down and Idempotency-Key): the in-memory
 * store and the Redis store's Lua twins must both pass it. test/store/contract.test.ts runs it on each.
 *
 * Everything runs in-process against the store itself (no HTTP). Timers (ring time-out, cool-down, replay
 * age, ticket expiry) are set to a second or three and awaited with bounded waits, so a run takes seconds.
 */
import type { Test } from 'tap'
import type { Config } from '../../server/config.js'
import { ApiError } from '../../server/errors.js'
import { MAILBOX_FULL, SHARE_FULL } from '../../server/store/refusals.js'
import type { Attachment, Store, StreamListener } from '../../server/store/types.js'
import { until } from '../helpers/wait.js'

/** Opens a fresh, empty store with these settings over the defaults (closed by the contract). */
export type StoreFactory = (settings: Partial<Config>) => Promise<Store>

/** A short time that the stores' timers are set to: long enough to act before it, short for the run. */
const SHORT_MS = 1000

const OFFER = { type: 'offer' as const, sdp: 'v=0 offer' }
const ANSWER = { type: 'answer' as const, sdp: 'v=0 answer' }

function candidate(n: number, padding = '') {
  return { candidate: `candidate:${n} 1 udp 2122260223 192.0.2.1 ${5000 + n} typ host${padding}`, sdpMid: '0' }
}

interface Received {
  id: number
  event: string
  data: Record<string, unknown>
}

/** A stream listener that records what the store told it. */
class Ear implements StreamListener {
  wakes = 0
  closed: 'replaced' | 'ended' | undefined
  wake(): void {
    this.wakes++
  }
  close(why: 'replaced' | 'ended'): void {
    this.closed = why
  }
}

/**
 * A session's mailbox as its client sees it: `take` attaches a fresh stream after the last id taken and
 * reads everything held (which the store then counts as written), as a client resuming with
 * Last-Event-ID does. A fresh stream reads once without waiting for a wake, so both stores are read alike.
 */
class Inbox {
  cursor: string | undefined
  constructor(private readonly store: Store, readonly name: string) {}

  /** What arrived since the last take. */
  take(): Promise<Received[]> {
    return this.from(this.cursor)
  }

  /** Everything held after `after` (undefined: every held event, written ones included). */
  async from(after: string | undefined): Promise<Received[]> {
    return drain(await this.store.attach(this.name, after, 'sse', new Ear()), (id) => (this.cursor = id))
  }
}

async function drain(attachment: Attachment, seen: (id: string) => void = () => {}): Promise<Received[]> {
  const out: Received[] = []
  for (let batch = 0; batch < 100; batch++) {
    const events = await attachment.read()
    if (events.length === 0) return out
    for (const e of events) out.push({ id: Number(e.id), event: e.event, data: JSON.parse(e.json) as Record<string, unknown> })
    const last = events[events.length - 1].id
    attachment.sent(last)
    seen(last)
  }
  throw new Error('a read never ran dry (100 batches)')
}

/** The ApiError `promise` rejects with; fails the test when it resolves or throws something else. */
async function refusal(t: Test, promise: Promise<unknown>, code: string, what: string): Promise<ApiError | undefined> {
  try {
    await promise
  } catch (error) {
    if (!(error instanceof ApiError)) throw error
    t.equal(error.code, code, what)
    return error
  }
  t.fail(`${what}: expected ${code}, it succeeded`)
  return undefined
}

const names = (events: Received[]) => events.map((e) => e.event)

/**
 * Where a store is known to miss the contract: each is a finding, reported and left as a `todo` with why,
 * so that the contract still says what is right.
 */
export interface KnownGaps {
  /** stats().calls leaves out recently ended calls, which metrics.ts's sigpost_calls says it counts. */
  statsWithoutEndedCalls?: string
}

export function storeContract(t: Test, factory: StoreFactory, gaps: KnownGaps = {}): void {
  /** A fresh store for one test, with sessions for `who` (each with token "tok-<name>"). */
  async function open(t: Test, settings: Partial<Config>, ...who: string[]): Promise<Store> {
    const store = await factory(settings)
    t.teardown(() => store.close())
    for (const name of who) await store.createSession(name, `tok-${name}`, { ip: '192.0.2.1' })
    return store
  }

  t.test('events are held in order with increasing ids; a resume lets go of what the client saw', async (t) => {
    const store = await open(t, {}, 'alice', 'bob')
    const bob = new Inbox(store, 'bob')
    const call = await store.createCall('alice', 'bob', OFFER)
    await store.relayCandidates('alice', call.callId, [candidate(1), candidate(2)])
    await store.relayCandidates('alice', call.callId, [candidate(3)])
    const first = await bob.take()
    t.same(names(first), ['incomingCall', 'iceCandidate', 'iceCandidate', 'iceCandidate'])
    t.same(first.map((e) => (e.data.candidate as { candidate: string } | undefined)?.candidate.split(' ')[0]), [undefined, 'candidate:1', 'candidate:2', 'candidate:3'], 'in the order sent')
    t.ok(first.every((e, i) => i === 0 || e.id > first[i - 1].id), 'ids increase')
    t.same(first[0].data, { callId: call.callId, from: 'alice', sdpOffer: OFFER })

    // Without a cursor a stream starts from the oldest held event: the written ones are held for replay.
    t.same((await bob.from(undefined)).map((e) => e.id), first.map((e) => e.id), 'no cursor: a replay of every held event')
    // A cursor lets go of everything up to it; a later stream without one starts after it.
    t.same((await bob.from(String(first[1].id))).map((e) => e.id), first.slice(2).map((e) => e.id), 'after the second: the rest')
    t.same((await bob.from(undefined)).map((e) => e.id), first.slice(2).map((e) => e.id), 'the first two were let go')
    // A cursor past anything ever written is clamped: an undelivered event is never skipped.
    await store.relayCandidates('alice', call.callId, [candidate(4)])
    const later = await bob.from(String(first[3].id + 50))
    t.same(names(later), ['iceCandidate'], 'a cursor from the future drops nothing undelivered')
    t.ok(later[0].id > first[3].id)
  })

  t.test('a newer stream replaces the older; a session that ended closes its stream and refuses a new one', async (t) => {
    const store = await open(t, {}, 'alice')
    const older = new Ear()
    await store.attach('alice', undefined, 'sse', older)
    const newer = new Ear()
    await store.attach('alice', undefined, 'poll', newer)
    await until(() => older.closed, 'the older stream to be closed')
    t.equal(older.closed, 'replaced')
    t.same((await store.stats()).streams, { sse: 0, poll: 1 }, 'one live stream')
    await store.endSession('alice', 'peer_gone')
    await until(() => newer.closed, 'the stream of the ended session to be closed')
    t.equal(newer.closed, 'ended')
    await refusal(t, store.attach('alice', undefined, 'sse', new Ear()), 'unauthorized', 'no stream for an ended session')
    t.equal(await store.findSession('tok-alice'), undefined, 'its token no longer works')
  })

  t.test('of streams attached one after another, the newest stays: each older one is closed as replaced', async (t) => {
    const store = await open(t, {}, 'alice')
    const ears: Ear[] = []
    for (let i = 0; i < 20; i++) {
      const ear = new Ear()
      await store.attach('alice', undefined, i % 2 ? 'poll' : 'sse', ear)
      ears.push(ear)
    }
    const older = ears.slice(0, -1)
    await until(() => older.every((ear) => ear.closed), 'every older stream to be closed')
    t.same(older.map((ear) => ear.closed), older.map(() => 'replaced'))
    t.equal(ears[ears.length - 1].closed, undefined, 'the newest is open')
    t.same((await store.stats()).streams, { sse: 0, poll: 1 })
    await store.endSession('alice', 'peer_gone')
    await until(() => ears[ears.length - 1].closed, 'the newest stream to be closed')
    t.equal(ears[ears.length - 1].closed, 'ended', 'the newest is closed by the end of its session')
  })

  t.test('of two streams attached at once, one stays (the one the store attached last)', async (t) => {
    const store = await open(t, {}, 'alice')
    const ears = [new Ear(), new Ear()]
    const streams = await Promise.all(ears.map((ear) => store.attach('alice', undefined, 'sse', ear)))
    await until(() => ears.some((ear) => ear.closed), 'one stream to be closed')
    const alive = ears.findIndex((ear) => !ear.closed)
    t.not(alive, -1, 'the other is open')
    t.same(ears.map((ear) => ear.closed).filter(Boolean), ['replaced'])
    await store.createSession('bob', 'tok-bob', { ip: '192.0.2.1' })
    await store.createCall('bob', 'alice', OFFER)
    await until(() => ears[alive].wakes > 0 || ears[alive].closed, 'the open stream to be woken')
    t.equal(ears[alive].closed, undefined, 'it is still open')
    t.same(names(await drain(streams[alive])), ['incomingCall'], 'and reads')
  })

  t.test('sessions: a held name, the per-address limit, a take-over, the directory', async (t) => {
    const store = await open(t, { maxSessionsPerIp: 2 })
    const created = await store.createSession('alice', 'tok-a1', { ip: '192.0.2.1', mayCall: ['bob'] })
    t.same(await store.findSession('tok-a1'), created)
    t.same(created.mayCall, ['bob'])
    await refusal(t, store.createSession('alice', 'tok-a2', { ip: '192.0.2.9' }), 'name_taken', 'a held name')
    await store.createSession('bob', 'tok-bob', { ip: '192.0.2.1' })
    const limited = await refusal(t, store.createSession('carol', 'tok-carol', { ip: '192.0.2.1' }), 'rate_limited', 'a third session from one address')
    t.ok(limited?.headers['Retry-After'], 'with Retry-After')
    await store.createSession('carol', 'tok-carol', { ip: '192.0.2.2' })

    // A take-over ends the older session in the same step: its call ends for the peer (peer_gone), its
    // stream is told `replaced`, its token stops working; its place counts as free for the address limit.
    const call = await store.createCall('alice', 'bob', OFFER)
    const bob = new Inbox(store, 'bob')
    await bob.take()
    const stream = new Ear()
    await store.attach('alice', undefined, 'sse', stream)
    const again = await store.createSession('alice', 'tok-a3', { ip: '192.0.2.1', takeOver: true })
    t.equal(again.name, 'alice')
    await until(() => stream.closed, "the older session's stream to be closed")
    t.equal(stream.closed, 'replaced')
    t.equal(await store.findSession('tok-a1'), undefined, "the older session's token no longer works")
    t.equal((await store.findSession('tok-a3'))?.name, 'alice')
    t.same((await bob.take()).map((e) => [e.event, e.data.reason]), [['stopCommunication', 'peer_gone']], 'the peer is told')
    t.equal((await store.getCall('bob', call.callId)).endReason, 'peer_gone')

    t.same(await store.listNames(undefined, 2), { names: ['alice', 'bob'], next: 'bob' })
    t.same(await store.listNames('bob', 2), { names: ['carol'], next: null })
    t.equal((await store.stats()).sessions, 3)
  })

  t.test('limits: a full mailbox refuses, one sender fills half of it at most, ending notices are never refused', async (t) => {
    const store = await open(t, { mailboxMaxEvents: 4, redialCooldownMs: 0 }, 'alice', 'bob', 'carol')
    const bob = new Inbox(store, 'bob')
    // carol fills her half of bob's mailbox with two missed calls (each cancelled call is one event).
    for (let i = 0; i < 2; i++) {
      const call = await store.createCall('carol', 'bob', OFFER)
      await store.endCall('carol', call.callId)
    }
    const call = await store.createCall('alice', 'bob', OFFER)
    await store.relayCandidates('alice', call.callId, [candidate(1)])
    const full = await refusal(t, store.relayCandidates('alice', call.callId, [candidate(2)]), 'mailbox_full', 'a fifth event')
    t.equal(full?.message, MAILBOX_FULL, 'the whole mailbox is full')
    t.equal(full?.headers['Retry-After'], '1')
    t.equal((await store.stats()).undelivered, 4)
    // Ending a call is never refused (its notice is forced past the limit).
    await store.endCall('alice', call.callId)
    const held = await bob.take()
    t.same(held.map((e) => [e.event, e.data.from, e.data.reason]), [
      ['missedCall', 'carol', 'cancelled'], ['missedCall', 'carol', 'cancelled'], ['missedCall', 'alice', 'cancelled'],
    ])

    // Now bob reads: a sender alone may fill half (2 events), not more.
    const next = await store.createCall('alice', 'bob', OFFER)
    await store.relayCandidates('alice', next.callId, [candidate(3)])
    const share = await refusal(t, store.relayCandidates('alice', next.callId, [candidate(4)]), 'mailbox_full', "a sender's third event")
    t.equal(share?.message, SHARE_FULL, "the sender's share is full")
    // A refused batch stores none of its events.
    t.same(names(await bob.take()), ['incomingCall', 'iceCandidate'])
    await store.relayCandidates('alice', next.callId, [candidate(5), candidate(6)])
    await refusal(t, store.relayCandidates('alice', next.callId, [candidate(7)]), 'mailbox_full', 'the share counts undelivered events only')
  })

  t.test('limits in bytes: the mailbox and the per-sender share', async (t) => {
    const store = await open(t, { mailboxMaxBytes: 2400 }, 'alice', 'bob')
    const call = await store.createCall('alice', 'bob', OFFER)
    const big = candidate(1, ' '.repeat(700))
    await store.relayCandidates('alice', call.callId, [big])
    const share = await refusal(t, store.relayCandidates('alice', call.callId, [candidate(2, ' '.repeat(700))]), 'mailbox_full', 'over half the bytes')
    t.equal(share?.message, SHARE_FULL)
    await store.relayCandidates('alice', call.callId, [candidate(3)])
    t.same(names(await new Inbox(store, 'bob').take()), ['incomingCall', 'iceCandidate', 'iceCandidate'])
  })

  t.test('the replay window keeps written events by count and bytes; undelivered ones are never dropped', async (t) => {
    const store = await open(t, { replayMaxEvents: 3, mailboxMaxEvents: 64 }, 'alice', 'bob')
    const bob = new Inbox(store, 'bob')
    const call = await store.createCall('alice', 'bob', OFFER)
    await store.relayCandidates('alice', call.callId, [1, 2, 3, 4, 5].map((n) => candidate(n)))
    const all = await bob.take()
    t.equal(all.length, 6, 'more than the window, undelivered: all of them')
    t.same((await bob.from(undefined)).map((e) => e.id), all.slice(-3).map((e) => e.id), 'written: the last replayMaxEvents')

    const bytes = await open(t, { replayMaxBytes: 800 }, 'alice', 'bob')
    const other = new Inbox(bytes, 'bob')
    const second = await bytes.createCall('alice', 'bob', OFFER)
    await bytes.relayCandidates('alice', second.callId, [1, 2, 3].map((n) => candidate(n, ' '.repeat(200))))
    const got = await other.take()
    t.equal(got.length, 4)
    t.same((await other.from(undefined)).map((e) => e.id), got.slice(-2).map((e) => e.id), 'written: as many of the newest as fit replayMaxBytes')
  })

  t.test('the replay window lets written events go after replayMaxAgeMs, never undelivered ones', async (t) => {
    const store = await open(t, { replayMaxAgeMs: SHORT_MS }, 'alice', 'bob')
    const bob = new Inbox(store, 'bob')
    const call = await store.createCall('alice', 'bob', OFFER)
    t.same(names(await bob.take()), ['incomingCall'])
    t.same(names(await bob.from(undefined)), ['incomingCall'], 'held for replay while young')
    // A live stream's heartbeat (touch) applies the age while nothing new is written.
    await until(async () => {
      const stream = await store.attach('bob', undefined, 'sse', new Ear())
      stream.touch()
      return (await drain(stream)).length === 0
    }, 'the written incomingCall to age out of the replay window', { everyMs: 50 })
    t.pass('let go once older than replayMaxAgeMs')
    t.equal((await store.getCall('bob', call.callId)).state, 'ringing', 'the call is untouched')
    const undelivered = await open(t, { replayMaxAgeMs: SHORT_MS }, 'alice', 'bob')
    await undelivered.createCall('alice', 'bob', OFFER)
    const before = Date.now()
    await until(() => Date.now() - before > 2 * SHORT_MS, 'twice the replay age', { everyMs: 50 })
    t.same(names(await new Inbox(undelivered, 'bob').take()), ['incomingCall'], 'an undelivered event outlives the age')
  })

  t.test('missed calls: a call the callee never got becomes one missedCall', async (t) => {
    const store = await open(t, { ringTimeoutMs: SHORT_MS, timerPollMs: 20, redialCooldownMs: 0 }, 'alice', 'bob', 'carol')
    const alice = new Inbox(store, 'alice')
    const bob = new Inbox(store, 'bob')

    // Cancelled by the caller: the incomingCall and its candidates become one missedCall "cancelled".
    const cancelled = await store.createCall('alice', 'bob', OFFER)
    await store.relayCandidates('alice', cancelled.callId, [candidate(1)])
    t.equal(await store.endCall('alice', cancelled.callId), true)
    const [missed, ...rest] = await bob.take()
    t.same(rest, [], 'one event for the call')
    t.same({ ...missed.data, at: undefined }, { callId: cancelled.callId, from: 'alice', reason: 'cancelled', at: undefined })
    t.equal(missed.event, 'missedCall')
    t.ok(!Number.isNaN(Date.parse(String(missed.data.at))), 'at is a time')
    t.same(await alice.take(), [], 'the caller is told nothing of its own cancel')

    // Failed while ringing, the callee never got it: collapses like a cancel; the call says why.
    const failed = await store.createCall('alice', 'bob', OFFER)
    t.equal(await store.endCall('alice', failed.callId, { reason: 'failed', cause: 'ice_failed' }), true)
    t.same((await bob.take()).map((e) => [e.event, e.data.reason]), [['missedCall', 'cancelled']])
    const info = await store.getCall('alice', failed.callId)
    t.same([info.state, info.endReason, info.endCause], ['ended', 'failed', 'ice_failed'])

    // The caller's session ends: cancelled too.
    await store.createCall('carol', 'bob', OFFER)
    await store.endSession('carol', 'peer_gone')
    t.same((await bob.take()).map((e) => [e.event, e.data.from, e.data.reason]), [['missedCall', 'carol', 'cancelled']])

    // The ring time-out: the callee gets missedCall "no_answer", the caller stopCommunication "no_answer".
    const unanswered = await store.createCall('alice', 'bob', OFFER)
    await until(async () => (await store.getCall('alice', unanswered.callId)).state === 'ended', 'the ring time-out')
    t.equal((await store.getCall('bob', unanswered.callId)).endReason, 'no_answer')
    t.same((await bob.take()).map((e) => [e.event, e.data.reason]), [['missedCall', 'no_answer']])
    t.same((await alice.take()).map((e) => [e.event, e.data.reason]), [['stopCommunication', 'no_answer']])
  })

  t.test('a callee that got the incomingCall is told how the call ended', async (t) => {
    const store = await open(t, { ringTimeoutMs: SHORT_MS, timerPollMs: 20, redialCooldownMs: 0 }, 'alice', 'bob')
    const alice = new Inbox(store, 'alice')
    const bob = new Inbox(store, 'bob')
    const told = async (end: (callId: string) => Promise<unknown>) => {
      const call = await store.createCall('alice', 'bob', OFFER)
      t.same(names(await bob.take()), ['incomingCall'])
      await end(call.callId)
      return (await bob.take()).map((e) => ({ ...e.data, callId: undefined }))
    }
    t.same(await told((id) => store.endCall('alice', id)), [{ callId: undefined, reason: 'cancelled' }])
    t.same(await told((id) => store.endCall('alice', id, { reason: 'failed', cause: 'relay_refused' })), [{ callId: undefined, reason: 'failed', cause: 'relay_refused' }])
    t.same(await told((id) => store.endCall('alice', id, { reason: 'failed' })), [{ callId: undefined, reason: 'failed' }], 'no cause when none was given')
    t.same(await told(async (id) => until(async () => (await store.getCall('bob', id)).state === 'ended', 'the ring time-out')), [{ callId: undefined, reason: 'no_answer' }])
    t.same((await alice.take()).map((e) => e.data.reason), ['no_answer'], 'the caller hears only of the time-out')
    // Answered, then hung up by the callee.
    const call = await store.createCall('alice', 'bob', OFFER)
    await store.acceptCall('bob', call.callId, ANSWER)
    t.same((await alice.take()).map((e) => [e.event, e.data.response]), [['callResponse', 'accepted']])
    t.same(names(await bob.take()), ['incomingCall', 'startCommunication'])
    t.equal(await store.endCall('bob', call.callId), true)
    t.equal(await store.endCall('alice', call.callId), false, 'an ended call: false, no event')
    t.same((await alice.take()).map((e) => [e.event, e.data.reason]), [['stopCommunication', 'hangup']])
    t.same(await bob.take(), [])
  })

  t.test('the redial cool-down: after a reject or no answer, not after a cancel, a hang-up or a failure', async (t) => {
    const store = await open(t, { redialCooldownMs: 3000 }, 'alice', 'bob')
    const alice = new Inbox(store, 'alice')
    const ends: Array<[string, (callId: string) => Promise<unknown>, boolean]> = [
      ['cancel', (id) => store.endCall('alice', id), false],
      ['failure', (id) => store.endCall('bob', id, { reason: 'failed', cause: 'no_relay' }), false],
      ['hang-up', async (id) => { await store.acceptCall('bob', id, ANSWER); await store.endCall('alice', id) }, false],
      ['reject', (id) => store.rejectCall('bob', id, 'busy now'), true],
    ]
    for (const [how, end, cools] of ends) {
      const call = await store.createCall('alice', 'bob', OFFER)
      await end(call.callId)
      if (!cools) {
        const again = await store.createCall('alice', 'bob', OFFER)
        await store.endCall('alice', again.callId)
        t.pass(`after a ${how}: the caller may call again at once`)
      }
    }
    const limited = await refusal(t, store.createCall('alice', 'bob', OFFER), 'rate_limited', 'after a reject')
    t.ok(['1', '2', '3'].includes(String(limited?.headers['Retry-After'])), 'Retry-After: the seconds left, rounded up')
    const back = await store.createCall('bob', 'alice', OFFER)
    await store.endCall('bob', back.callId)
    t.pass('the callee may always call back')
    const reply = (await alice.take()).find((e) => e.event === 'callResponse' && e.data.response === 'rejected')
    t.equal(reply?.data.message, 'busy now', "the caller reads the callee's reason")
    await until(async () => store.createCall('alice', 'bob', OFFER).then((c) => store.endCall('alice', c.callId)).catch(() => false), 'the cool-down to run out', { everyMs: 100 })

    // A callee's DELETE while ringing counts as a reject.
    const declined = await store.createCall('alice', 'bob', OFFER)
    await store.endCall('bob', declined.callId)
    t.equal((await store.getCall('alice', declined.callId)).endReason, 'rejected')
    await refusal(t, store.createCall('alice', 'bob', OFFER), 'rate_limited', "after the callee's DELETE while ringing")
    t.same((await alice.take()).slice(-1).map((e) => [e.event, e.data.response, e.data.message]), [['callResponse', 'rejected', 'declined']])

    // No answer starts it too.
    const other = await open(t, { ringTimeoutMs: SHORT_MS, timerPollMs: 20, redialCooldownMs: 60_000 }, 'alice', 'bob')
    const unanswered = await other.createCall('alice', 'bob', OFFER)
    await until(async () => (await other.getCall('alice', unanswered.callId)).state === 'ended', 'the ring time-out')
    await refusal(t, other.createCall('alice', 'bob', OFFER), 'rate_limited', 'after no answer')
  })

  t.test('blocks: idempotent, limited, kept for the session; a block answers as an absent name, before any other check', async (t) => {
    const store = await open(t, { maxBlocksPerSession: 2, redialCooldownMs: 60_000 }, 'alice', 'bob', 'carol', 'dave')
    await store.block('bob', 'mallory')
    await store.block('bob', 'mallory')
    await store.block('bob', 'dave')
    t.same(await store.listBlocks('bob'), ['dave', 'mallory'], 'in name order, each once')
    await store.block('bob', 'dave')
    t.pass('blocking a blocked name at the limit is fine')
    await refusal(t, store.block('bob', 'zed'), 'block_limit', 'a third name')
    await store.unblock('bob', 'mallory')
    await store.unblock('bob', 'mallory')
    t.same(await store.listBlocks('bob'), ['dave'])
    const absent = await refusal(t, store.createCall('alice', 'nobody', OFFER), 'peer_not_found', 'an absent name')
    const blocked = await refusal(t, store.createCall('dave', 'bob', OFFER), 'peer_not_found', 'a blocked caller')
    t.equal(blocked?.statusCode, absent?.statusCode)

    // A reject with block: blocks in the same step; at the limit it changes nothing.
    const call = await store.createCall('alice', 'bob', OFFER)
    await store.block('bob', 'x')
    await refusal(t, store.rejectCall('bob', call.callId, 'no', true), 'block_limit', 'a reject with block over the limit')
    t.equal((await store.getCall('bob', call.callId)).state, 'ringing', 'the call still rings')
    await store.unblock('bob', 'x')
    const rejected = await store.rejectCall('bob', call.callId, 'no', true)
    t.same([rejected.state, rejected.endReason], ['ended', 'rejected'])
    t.same(await store.listBlocks('bob'), ['alice', 'dave'])
    // The block wins over the cool-down (alice was just rejected) and over busy.
    await refusal(t, store.createCall('alice', 'bob', OFFER), 'peer_not_found', 'blocked and cooling down')
    await store.createCall('carol', 'bob', OFFER)
    await refusal(t, store.createCall('alice', 'bob', OFFER), 'peer_not_found', 'blocked and the callee busy')
    await refusal(t, store.createCall('dave', 'carol', OFFER), 'busy', 'a callee in another call')

    // Blocks belong to the session.
    await store.endSession('bob', 'peer_gone')
    await store.createSession('bob', 'tok-bob2', { ip: '192.0.2.1' })
    t.same(await store.listBlocks('bob'), [], 'a new session starts without blocks')
    await refusal(t, store.block('gone', 'x'), 'unauthorized', 'an ended session blocks no one')
  })

  t.test('calls: who may do what, in which state; the candidate limit', async (t) => {
    const store = await open(t, { maxCandidatesPerCall: 3 }, 'alice', 'bob', 'eve')
    await refusal(t, store.createCall('alice', 'alice', OFFER), 'invalid_body', 'calling oneself')
    const call = await store.createCall('alice', 'bob', OFFER)
    t.same([call.caller, call.callee, call.state], ['alice', 'bob', 'ringing'])
    await refusal(t, store.createCall('alice', 'eve', OFFER), 'busy', 'a caller already in a call')
    await refusal(t, store.createCall('eve', 'bob', OFFER), 'busy', 'a callee in a call')
    await refusal(t, store.getCall('eve', call.callId), 'call_not_found', 'not a party')
    await refusal(t, store.relayCandidates('eve', call.callId, [candidate(1)]), 'call_not_found', 'not a party relays')
    await refusal(t, store.acceptCall('alice', call.callId, ANSWER), 'forbidden', 'the caller accepts')
    await refusal(t, store.rejectCall('alice', call.callId, 'no'), 'forbidden', 'the caller rejects')
    await refusal(t, store.relaySdp('alice', call.callId, OFFER), 'invalid_state', 'sdp while ringing')
    t.equal((await store.stats()).calls, 1, 'a ringing call is counted')
    await store.relayCandidates('alice', call.callId, [candidate(1), candidate(2)])
    await refusal(t, store.relayCandidates('alice', call.callId, [candidate(3), candidate(4)]), 'candidate_limit', 'past maxCandidatesPerCall')
    await store.relayCandidates('alice', call.callId, [candidate(3)])
    await store.relayCandidates('bob', call.callId, [candidate(1), candidate(2), candidate(3)])
    t.pass('each side has its own count')
    const active = await store.acceptCall('bob', call.callId, ANSWER)
    t.same([active.state, typeof active.answeredAt], ['active', 'string'])
    await refusal(t, store.acceptCall('bob', call.callId, ANSWER), 'invalid_state', 'accepting an active call')
    await store.relaySdp('bob', call.callId, OFFER)
    await store.endCall('alice', call.callId)
    await refusal(t, store.relayCandidates('bob', call.callId, [null]), 'invalid_state', 'candidates after the end')
    const ended = await store.getCall('bob', call.callId)
    t.same([ended.state, ended.endReason, typeof ended.endedAt], ['ended', 'hangup', 'string'])
    const todo = gaps.statsWithoutEndedCalls
    t.equal((await store.stats()).calls, 1, 'a recently ended call is still counted (sigpost_calls: "ringing, active, or recently ended")', todo ? { todo } : {})
  })

  t.test('Idempotency-Key: a retry under the same scope gets the same reply and writes nothing twice', async (t) => {
    const store = await open(t, {}, 'alice', 'bob')
    const bob = new Inbox(store, 'bob')
    const once = store.withIdempotencyKey('scope-create')
    const first = await once.createCall('alice', 'bob', OFFER)
    const retry = await once.createCall('alice', 'bob', OFFER)
    t.same(retry, first, 'the same reply')
    const other = await refusal(t, store.withIdempotencyKey('scope-other').createCall('alice', 'bob', OFFER), 'busy', 'another key is another request')
    t.ok(other)
    const relay = store.withIdempotencyKey('scope-relay')
    await relay.relayCandidates('alice', first.callId, [candidate(1)])
    await relay.relayCandidates('alice', first.callId, [candidate(1)])
    t.same(names(await bob.take()), ['incomingCall', 'iceCandidate'], 'each write stored once')

    // A write that throws is not remembered: a retry runs it again.
    const later = store.withIdempotencyKey('scope-accept')
    await refusal(t, later.acceptCall('alice', first.callId, ANSWER), 'forbidden', 'a refused write')
    await refusal(t, later.acceptCall('alice', first.callId, ANSWER), 'forbidden', 'its retry runs again')
    const accept = store.withIdempotencyKey('scope-accept-bob')
    const accepted = await accept.acceptCall('bob', first.callId, ANSWER)
    t.same(await accept.acceptCall('bob', first.callId, ANSWER), accepted, 'an accept retried: the same reply, not invalid_state')
    t.equal((await once.getCall('alice', first.callId)).state, 'active', 'reads through a keyed store are not remembered')

    const end = store.withIdempotencyKey('scope-end')
    t.equal(await end.endCall('alice', first.callId), true)
    t.equal(await end.endCall('alice', first.callId), true, 'the remembered reply, not "already ended"')
    t.same((await bob.take()).map((e) => [e.event, e.data.reason]), [['startCommunication', undefined], ['stopCommunication', 'hangup']])
    t.same((await new Inbox(store, 'alice').take()).map((e) => e.event), ['callResponse'], 'the caller got one callResponse')

    const blocks = store.withIdempotencyKey('scope-block')
    await blocks.block('bob', 'eve')
    await store.unblock('bob', 'eve')
    await blocks.block('bob', 'eve')
    t.same(await blocks.listBlocks('bob'), [], 'a retried block does not block again; a read is never remembered')
  })

  t.test('stream tickets are used up once, and expire', async (t) => {
    const store = await open(t, {})
    await store.createTicket('t1', 'tok-x', 60_000)
    t.equal(await store.takeTicket('t1'), 'tok-x')
    t.equal(await store.takeTicket('t1'), undefined, 'used up')
    t.equal(await store.takeTicket('unknown'), undefined)
    const made = Date.now()
    await store.createTicket('t2', 'tok-x', 50)
    await until(() => Date.now() - made > 100, 'twice the ticket lifetime', { everyMs: 20 })
    t.equal(await store.takeTicket('t2'), undefined, 'expired')
  })
}
