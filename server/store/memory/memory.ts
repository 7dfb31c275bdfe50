/**
 * The in-memory store: the default, for one instance. Everything is synchronous inside, so each method
 * is atomic by construction; the async signatures are the Store interface's.
 */
import { randomUUID } from 'node:crypto'
import type { Config } from '../../config.js'
import type { Candidate, SdpAnswer, SdpOffer, SessionDescription } from '../../../protocol/index.js'
import { ApiError } from '../../errors.js'
import { RememberedReplies } from './idempotency.js'
import { Mailbox, type NewEvent } from './mailbox.js'
import { tooManyCandidates, tooManySessions } from '../refusals.js'
import { READ_BATCH_BYTES, type Attachment, type CallInfo, type CallFailure, type EndReason, type FailureCause, type StopReason, type NamePage, type NewSession, type SessionInfo, type Store, type StoreStats, type StreamListener } from '../types.js'

interface Session {
  name: string
  tokenHash: string
  createdAt: number
  mailbox: Mailbox
  /** The address that registered it (maxSessionsPerIp). */
  ip: string
  /** The call this session is in (ringing or active). */
  callId?: string
  stream?: LiveStream
  graceTimer?: NodeJS.Timeout
  ended: boolean
  /** Verified names: who this session may call (SessionInfo.mayCall). */
  mayCall?: string[]
  /** Names whose calls this session does not take (answered as if it were not there). */
  blocks: Set<string>
}

interface LiveStream {
  transport: 'sse' | 'poll'
  listener: StreamListener
}

interface Call extends CallInfo {
  timer?: NodeJS.Timeout
  /** Candidates relayed so far by each side (maxCandidatesPerCall). */
  candidates: { caller: number; callee: number }
}

/** How often written events beyond the replay window's age are let go while nothing new arrives (at most). */
const TRIM_INTERVAL_MS = 5_000

export class MemoryStore implements Store {
  private readonly sessions = new Map<string, Session>()
  private readonly byToken = new Map<string, Session>()
  private readonly calls = new Map<string, Call>()
  private readonly streamCounts = { sse: 0, poll: 0 }
  /** Redial cool-downs: "<caller>\n<callee>" → until (ms). Names cannot hold a newline. */
  private readonly cooldowns = new Map<string, number>()
  /** Stream tickets by hash, in creation order (all share one lifetime, so the oldest expire first). */
  private readonly tickets = new Map<string, { tokenHash: string; expiresAt: number }>()
  /** Live sessions per client address. */
  private readonly perIp = new Map<string, number>()
  /** The names in order, built when the directory is read after a change. */
  private sorted?: string[]
  private readonly trimTimer: NodeJS.Timeout
  private readonly remembered: RememberedReplies

  constructor(private readonly config: Config) {
    this.remembered = new RememberedReplies(config.idempotencyTtlMs)
    this.trimTimer = setInterval(() => {
      const now = Date.now()
      for (const session of this.sessions.values()) session.mailbox.trim(now)
    }, Math.max(50, Math.min(TRIM_INTERVAL_MS, config.replayMaxAgeMs / 2))).unref()
  }

  withIdempotencyKey(scope: string): Store {
    return this.remembered.view(this, scope)
  }

  async createSession(name: string, tokenHash: string, { ip, takeOver, mayCall }: NewSession): Promise<SessionInfo> {
    const older = this.sessions.get(name)
    if (older && !takeOver) throw new ApiError('name_taken', `The name "${name}" is held by someone else; pick another.`)
    // A take-over frees the older session's place first (a refused one changes nothing).
    if ((this.perIp.get(ip) ?? 0) - (older?.ip === ip ? 1 : 0) >= this.config.maxSessionsPerIp) throw tooManySessions(this.config)
    if (older) this.endSessionNow(name, 'peer_gone', 'replaced')
    const held = this.perIp.get(ip) ?? 0
    const session: Session = {
      name,
      tokenHash,
      createdAt: Date.now(),
      ip,
      mailbox: new Mailbox({
        maxEvents: this.config.mailboxMaxEvents,
        maxBytes: this.config.mailboxMaxBytes,
        replayMaxEvents: this.config.replayMaxEvents,
        replayMaxBytes: this.config.replayMaxBytes,
        replayMaxAgeMs: this.config.replayMaxAgeMs,
      }),
      ended: false,
      mayCall,
      blocks: new Set(),
    }
    this.sessions.set(name, session)
    this.byToken.set(tokenHash, session)
    this.perIp.set(ip, held + 1)
    this.sorted = undefined
    this.startGrace(session)
    return info(session)
  }

  async findSession(tokenHash: string): Promise<SessionInfo | undefined> {
    const session = this.byToken.get(tokenHash)
    return session && info(session)
  }

  async listNames(after: string | undefined, limit: number): Promise<NamePage> {
    this.sorted ??= [...this.sessions.keys()].sort()
    const names = this.sorted
    let start = 0
    if (after !== undefined) {
      let high = names.length
      while (start < high) {
        const mid = (start + high) >> 1
        if (names[mid] <= after) start = mid + 1
        else high = mid
      }
    }
    const page = names.slice(start, start + limit)
    return { names: page, next: start + limit < names.length ? page[page.length - 1] : null }
  }

  async endSession(name: string, reason: StopReason): Promise<void> {
    this.endSessionNow(name, reason, 'ended')
  }

  /** Ends a session; its stream is closed as `why` (a take-over closes it as `replaced`). */
  private endSessionNow(name: string, reason: StopReason, why: 'replaced' | 'ended'): void {
    const session = this.sessions.get(name)
    if (!session) return
    session.ended = true
    clearTimeout(session.graceTimer)
    this.sessions.delete(name)
    this.byToken.delete(session.tokenHash)
    this.sorted = undefined
    const held = (this.perIp.get(session.ip) ?? 1) - 1
    if (held > 0) this.perIp.set(session.ip, held)
    else this.perIp.delete(session.ip)
    const call = session.callId ? this.calls.get(session.callId) : undefined
    if (call && call.state !== 'ended') {
      this.finishCall(call, reason, [[otherParty(call, name), stopCommunication(call, reason)]])
    }
    this.dropStream(session, why)
  }

  async attach(name: string, after: string | undefined, transport: 'sse' | 'poll', listener: StreamListener): Promise<Attachment> {
    const session = this.sessions.get(name)
    if (!session) throw new ApiError('unauthorized', 'The session has ended; register again.')
    this.dropStream(session, 'replaced')
    const stream: LiveStream = { transport, listener }
    session.stream = stream
    this.streamCounts[transport]++
    clearTimeout(session.graceTimer)
    session.graceTimer = undefined
    let cursor = session.mailbox.resume(after === undefined ? undefined : Number(after))
    const live = () => session.stream === stream
    return {
      read: async () => (live() ? session.mailbox.after(cursor, READ_BATCH_BYTES) : []),
      sent: (id: string) => {
        if (!live()) return
        cursor = Number(id)
        session.mailbox.markSent(cursor)
      },
      detach: () => {
        if (!live()) return
        session.stream = undefined
        this.streamCounts[transport]--
        this.startGrace(session)
      },
      // In one process a stream's end is always seen (its socket closes), so no lease is needed.
      touch: () => {},
    }
  }

  async createCall(caller: string, callee: string, sdpOffer: SdpOffer): Promise<CallInfo> {
    if (caller === callee) throw new ApiError('invalid_body', 'You cannot call yourself; "to" must name another session.')
    const from = this.live(caller)
    const to = this.sessions.get(callee)
    // A block answers exactly as an absent callee does, so a blocked caller learns nothing.
    if (!to || to.blocks.has(caller)) throw new ApiError('peer_not_found', `No one is registered as "${callee}".`)
    this.checkCooldown(caller, callee)
    if (from.callId) throw new ApiError('busy', 'You are already in a call; hang it up first.')
    if (to.callId) throw new ApiError('busy', `"${callee}" is in another call.`)
    const call: Call = { callId: randomUUID(), caller, callee, state: 'ringing', createdAt: new Date().toISOString(), candidates: { caller: 0, callee: 0 } }
    this.deliver(to, [{ event: 'incomingCall', data: { callId: call.callId, from: caller, sdpOffer }, from: caller, callId: call.callId }])
    this.calls.set(call.callId, call)
    from.callId = call.callId
    to.callId = call.callId
    call.timer = setTimeout(() => this.ringTimeout(call), this.config.ringTimeoutMs).unref()
    return view(call)
  }

  async acceptCall(name: string, callId: string, sdpAnswer: SdpAnswer): Promise<CallInfo> {
    const call = this.partyCall(name, callId)
    if (name !== call.callee) throw new ApiError('forbidden', 'Only the callee can accept a call.')
    if (call.state !== 'ringing') throw new ApiError('invalid_state', `The call is ${call.state}; only a ringing call can be accepted.`)
    this.deliver(this.live(call.caller), [{ event: 'callResponse', data: { callId, response: 'accepted', sdpAnswer }, from: name, callId }])
    this.deliver(this.live(call.callee), [{ event: 'startCommunication', data: { callId }, from: SERVER, callId }], true)
    clearTimeout(call.timer)
    call.state = 'active'
    call.answeredAt = new Date().toISOString()
    return view(call)
  }

  async rejectCall(name: string, callId: string, reason: string, block = false): Promise<CallInfo> {
    const call = this.partyCall(name, callId)
    if (name !== call.callee) throw new ApiError('forbidden', 'Only the callee can reject a call; the caller cancels with DELETE.')
    if (call.state !== 'ringing') throw new ApiError('invalid_state', `The call is ${call.state}; only a ringing call can be rejected.`)
    if (block) this.addBlock(this.live(name), call.caller)
    this.finishCall(call, 'rejected', [[call.caller, rejected(call, reason)]])
    return view(call)
  }

  async relayCandidates(name: string, callId: string, candidates: Candidate[]): Promise<void> {
    const call = this.partyCall(name, callId)
    if (call.state === 'ended') throw new ApiError('invalid_state', 'The call has ended; candidates are no longer relayed.')
    const side = name === call.caller ? 'caller' : 'callee'
    if (call.candidates[side] + candidates.length > this.config.maxCandidatesPerCall) throw tooManyCandidates(this.config)
    const peer = this.live(otherParty(call, name))
    this.deliver(peer, candidates.map((candidate) => ({ event: 'iceCandidate' as const, data: { callId, candidate }, from: name, callId })))
    call.candidates[side] += candidates.length
  }

  async relaySdp(name: string, callId: string, description: SessionDescription): Promise<void> {
    const call = this.partyCall(name, callId)
    if (call.state !== 'active') throw new ApiError('invalid_state', `The call is ${call.state}; descriptions are relayed in an active call only.`)
    this.deliver(this.live(otherParty(call, name)), [{ event: 'sdp', data: { callId, description }, from: name, callId }])
  }

  async endCall(name: string, callId: string, failure?: CallFailure): Promise<boolean> {
    const call = this.partyCall(name, callId)
    if (call.state === 'ended') return false
    if (failure) {
      if (failure.cause) call.endCause = failure.cause
      this.finishCall(call, 'failed', [[otherParty(call, name), stopCommunication(call, 'failed', failure.cause)]])
    } else if (call.state === 'active') {
      this.finishCall(call, 'hangup', [[otherParty(call, name), stopCommunication(call, 'hangup')]])
    } else if (name === call.caller) {
      this.finishCall(call, 'cancelled', [[call.callee, stopCommunication(call, 'cancelled')]])
    } else {
      this.finishCall(call, 'rejected', [[call.caller, rejected(call, 'declined')]])
    }
    return true
  }

  async getCall(name: string, callId: string): Promise<CallInfo> {
    return view(this.partyCall(name, callId))
  }

  async block(name: string, blocked: string): Promise<void> {
    this.addBlock(this.live(name), blocked)
  }

  async unblock(name: string, blocked: string): Promise<void> {
    this.live(name).blocks.delete(blocked)
  }

  async listBlocks(name: string): Promise<string[]> {
    return [...this.live(name).blocks].sort()
  }

  async createTicket(ticketHash: string, tokenHash: string, ttlMs: number): Promise<void> {
    this.pruneTickets()
    this.tickets.set(ticketHash, { tokenHash, expiresAt: Date.now() + ttlMs })
  }

  async takeTicket(ticketHash: string): Promise<string | undefined> {
    this.pruneTickets()
    const ticket = this.tickets.get(ticketHash)
    this.tickets.delete(ticketHash)
    return ticket && ticket.expiresAt > Date.now() ? ticket.tokenHash : undefined
  }

  async ping(): Promise<void> {}

  async stats(): Promise<StoreStats> {
    let undelivered = 0
    for (const session of this.sessions.values()) undelivered += session.mailbox.undeliveredCount
    return { sessions: this.sessions.size, calls: this.calls.size, undelivered, streams: { ...this.streamCounts } }
  }

  async close(): Promise<void> {
    clearInterval(this.trimTimer)
    for (const session of this.sessions.values()) {
      clearTimeout(session.graceTimer)
      this.dropStream(session, 'ended')
    }
    for (const call of this.calls.values()) clearTimeout(call.timer)
  }

  private addBlock(session: Session, blocked: string): void {
    if (session.blocks.has(blocked)) return
    if (session.blocks.size >= this.config.maxBlocksPerSession) {
      throw new ApiError('block_limit', `A session can block at most ${this.config.maxBlocksPerSession} names; lift a block first.`)
    }
    session.blocks.add(blocked)
  }

  private checkCooldown(caller: string, callee: string): void {
    const key = `${caller}\n${callee}`
    const until = this.cooldowns.get(key)
    if (until === undefined) return
    const left = until - Date.now()
    if (left <= 0) {
      this.cooldowns.delete(key)
      return
    }
    const seconds = Math.ceil(left / 1000)
    throw new ApiError('rate_limited', `Your last call to "${callee}" was not taken; you can call again in ${seconds} s.`, { 'Retry-After': String(seconds) })
  }

  /** Expired tickets are let go as new ones come (a Map keeps insertion order, and all share one lifetime). */
  private pruneTickets(now = Date.now()): void {
    for (const [hash, ticket] of this.tickets) {
      if (ticket.expiresAt > now) break
      this.tickets.delete(hash)
    }
  }

  private live(name: string): Session {
    const session = this.sessions.get(name)
    // A party's session that ended has already ended its call, so this only guards the caller's own session.
    if (!session) throw new ApiError('unauthorized', 'The session has ended; register again.')
    return session
  }

  private partyCall(name: string, callId: string): Call {
    const call = this.calls.get(callId)
    if (!call || (call.caller !== name && call.callee !== name)) {
      throw new ApiError('call_not_found', 'No such call among yours.')
    }
    return call
  }

  private deliver(session: Session, events: NewEvent[], force = false): void {
    session.mailbox.append(events, force)
    session.stream?.listener.wake()
  }

  /**
   * Ends a call, tells the parties listed, frees both sessions and keeps the call readable for a while.
   * A ringing call whose callee never got any of its events becomes one missedCall for the callee.
   */
  private finishCall(call: Call, reason: EndReason, notices: Array<[string, NewEvent]>): void {
    const missed = call.state === 'ringing' ? missedCall(call, reason) : undefined
    for (const [name, event] of notices) {
      const session = this.sessions.get(name)
      if (!session || session.ended) continue
      if (missed && name === call.callee && session.mailbox.collapseCall(call.callId, missed)) {
        session.stream?.listener.wake()
        continue
      }
      this.deliver(session, [event], true)
    }
    clearTimeout(call.timer)
    if ((reason === 'rejected' || reason === 'no_answer') && this.config.redialCooldownMs > 0) {
      const key = `${call.caller}\n${call.callee}`
      // Re-inserted, so that the Map stays in expiry order and pruning can stop at the first live one.
      this.cooldowns.delete(key)
      this.cooldowns.set(key, Date.now() + this.config.redialCooldownMs)
      for (const [k, until] of this.cooldowns) {
        if (until > Date.now()) break
        this.cooldowns.delete(k)
      }
    }
    call.state = 'ended'
    call.endReason = reason
    call.endedAt = new Date().toISOString()
    for (const name of [call.caller, call.callee]) {
      const session = this.sessions.get(name)
      if (session?.callId === call.callId) session.callId = undefined
    }
    call.timer = setTimeout(() => this.calls.delete(call.callId), this.config.endedCallRetentionMs).unref()
  }

  private ringTimeout(call: Call): void {
    if (call.state !== 'ringing') return
    const notice = stopCommunication(call, 'no_answer')
    this.finishCall(call, 'no_answer', [[call.caller, notice], [call.callee, notice]])
  }

  private startGrace(session: Session): void {
    clearTimeout(session.graceTimer)
    session.graceTimer = setTimeout(() => void this.endSession(session.name, 'peer_gone'), this.config.graceMs).unref()
  }

  private dropStream(session: Session, why: 'replaced' | 'ended'): void {
    const stream = session.stream
    if (!stream) return
    session.stream = undefined
    this.streamCounts[stream.transport]--
    stream.listener.close(why)
  }
}

function info(session: Session): SessionInfo {
  return session.mayCall ? { name: session.name, createdAt: session.createdAt, mayCall: session.mayCall } : { name: session.name, createdAt: session.createdAt }
}

function otherParty(call: CallInfo, name: string): string {
  return name === call.caller ? call.callee : call.caller
}

/** Notices that end or start a call are forced (never refused), so they count against no sender's share. */
const SERVER = ''

function stopCommunication(call: CallInfo, reason: StopReason, cause?: FailureCause): NewEvent {
  const data = cause ? { callId: call.callId, reason, cause } : { callId: call.callId, reason }
  return { event: 'stopCommunication', data, from: SERVER, callId: call.callId }
}

function rejected(call: CallInfo, reason: string): NewEvent {
  return { event: 'callResponse', data: { callId: call.callId, response: 'rejected', message: reason }, from: SERVER, callId: call.callId }
}

/**
 * What a callee who never saw the call is told instead of its events: ended by the caller (cancelled, or
 * the caller's session ended or expired: also "cancelled") or by the ring time-out. A reject implies the
 * callee saw the call. A failed call that the callee never got collapses like a cancel (ring-then-fail would
 * otherwise leave two events per call in an offline callee's mailbox); one the callee got is told as such
 * (stopCommunication failed, and why). It counts against the caller's share, as the incomingCall it
 * replaces did, so calling and cancelling over and over fills only the caller's half of the mailbox.
 */
function missedCall(call: CallInfo, reason: EndReason): NewEvent | undefined {
  if (reason === 'rejected') return undefined
  const why = reason === 'no_answer' ? 'no_answer' : 'cancelled'
  return { event: 'missedCall', data: { callId: call.callId, from: call.caller, reason: why, at: new Date().toISOString() }, from: call.caller, callId: call.callId }
}

function view(call: Call): CallInfo {
  const { timer: _timer, candidates: _candidates, ...info } = call
  return info
}
