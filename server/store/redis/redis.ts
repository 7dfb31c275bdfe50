/**
 * The shared store: sessions, mailboxes, calls and timers live in Redis, so that any instance can serve
 * any request (no sticky sessions). Each step is one Lua script (lua/, loaded by scripts.ts), atomic in Redis.
 *
 * Delivery across instances uses Redis pub/sub, one channel per session: a stream's instance subscribes
 * to it while the stream is attached and is woken by "wake" to read the mailbox (a Redis stream). Pub/sub
 * carries no data, only a nudge, so a lost message costs latency, never an event: the mailbox is the
 * truth, and every stream reads it on attach and on each heartbeat.
 *
 * Timers (ring time-out, grace expiry) are members of a sorted set by due time; every instance claims due
 * ones atomically, so an instance that dies does not take its timers with it.
 */
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Config } from '../../config.js'
import { ApiError } from '../../errors.js'
import type { Candidate, SdpAnswer, SdpOffer, SessionDescription, SessionEventType } from '../../../protocol/index.js'
import { eventJson } from '../events.js'
import { closeRedis, connectRedis, untilReady } from './connection.js'
import { callInfo, storeError, unavailable } from './replies.js'
import { SCRIPTS, type ScriptName } from './scripts.js'
import { READ_BATCH_BYTES, REMEMBERED, type Attachment, type CallInfo, type CallFailure, type StopReason, type NamePage, type NewSession, type SessionInfo, type Store, type StoreStats, type StoredEvent, type StreamListener } from '../types.js'

/** A claimed timer whose instance died before firing it is claimed again after this long. */
const CLAIM_RETRY_MS = 10_000

type ScriptRunner = (...args: Array<string | number>) => Promise<unknown>

/**
 * Scripts whose writes no 2xx acknowledges (reads, a stream's bookkeeping, timer claims): no WAIT after
 * them. Every other script's writes are what a 2xx promises, so with redisMinReplicas they are confirmed
 * by that many replicas first.
 */
const UNACKNOWLEDGED = new Set<string>(['find', 'attach', 'read', 'detach', 'claimTimers'])

interface LocalStream {
  id: string
  transport: 'sse' | 'poll'
  listener: StreamListener
  /**
   * Events may be waiting for it: set by every wake before the listener hears it, cleared by a read that
   * took all there was. A read while it is clear answers [] without asking Redis (issue 23: the stream
   * reads again after every batch, an empty read of Redis per relayed message).
   */
  dirty: boolean
  /**
   * Its own "attach:<id>" message has arrived. A channel's messages arrive in the order the scripts published
   * them, so another stream's attach message is about an older stream while this one's has not arrived:
   * only announced streams are replaced by it (two attaches in flight at once closed each other).
   */
  announced: boolean
}

export class RedisStore implements Store {
  private readonly redis: Redis
  private readonly subscriber: Redis
  private readonly scripts = {} as Record<ScriptName, ScriptRunner>
  /** The scripts as Redis sees them: idempotency record key ('' for none), its TTL, prefix, arguments. */
  private readonly commands = {} as Record<ScriptName, ScriptRunner>
  /** Set on the view that withIdempotencyKey returns: the record of that request's reply. */
  private idempotencyRecord = ''
  /** This store's methods that no Idempotency-Key remembers (types.ts REMEMBERED), bound to it for the views. */
  private readonly unremembered: Partial<Store>
  private readonly instanceId = randomUUID()
  private readonly local = new Map<string, Set<LocalStream>>()
  /** A session's SUBSCRIBE while it is on its way (subscribe). */
  private readonly subscribing = new Map<string, Promise<unknown>>()
  private readonly streamCounts = { sse: 0, poll: 0 }
  private readonly timer: NodeJS.Timeout
  private claiming = false
  private closed = false

  constructor(private readonly config: Config) {
    // A plain REDIS_URL or Sentinel mode, the same for both connections (connection.ts).
    this.redis = connectRedis(config, 'store')
    this.subscriber = connectRedis(config, 'subscriber')
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      this.redis.defineCommand(name, { numberOfKeys: 2, lua })
      const command = (this.redis as unknown as Record<string, ScriptRunner>)[name].bind(this.redis)
      this.commands[name as ScriptName] = command
      this.scripts[name as ScriptName] = (...args) => command('', 0, config.redisPrefix, ...args)
    }
    this.unremembered = Object.fromEntries(Object.entries(REMEMBERED).filter(([, remembered]) => !remembered)
      .map(([method]) => [method, (this[method as keyof Store] as (...args: unknown[]) => unknown).bind(this)]))
    this.subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message))
    // Wake-ups published while the subscriber was away are lost (pub/sub keeps nothing), and reads failed
    // while the other connection was away: once either is back (ioredis subscribes again by itself),
    // every local stream reads its mailbox.
    const wakeAll = () => {
      for (const streams of this.local.values()) {
        for (const stream of streams) {
          stream.dirty = true
          stream.listener.wake()
        }
      }
    }
    this.subscriber.on('ready', () => {
      // An attach message published while the subscriber was away is lost: its stream counts as announced.
      for (const streams of this.local.values()) for (const stream of streams) stream.announced = true
      wakeAll()
    })
    this.redis.on('ready', wakeAll)
    this.timer = setInterval(() => void this.runTimers(), config.timerPollMs).unref()
  }

  /** Resolves once both connections are ready (a start-up check, so a wrong REDIS_URL fails loudly). */
  async ready(timeoutMs = 5000): Promise<void> {
    await Promise.all([untilReady(this.redis, timeoutMs), untilReady(this.subscriber, timeoutMs)])
  }

  async createSession(name: string, tokenHash: string, { ip, takeOver, mayCall }: NewSession): Promise<SessionInfo> {
    const created = await this.run('register', name, tokenHash, Date.now(), this.config.graceMs, ip, this.config.maxSessionsPerIp,
      takeOver ? 1 : 0, mayCall ? JSON.stringify(mayCall) : '', new Date().toISOString(), this.config.endedCallRetentionMs)
    return mayCall ? { name, createdAt: Number(created), mayCall } : { name, createdAt: Number(created) }
  }

  async findSession(tokenHash: string): Promise<SessionInfo | undefined> {
    const found = (await this.run('find', tokenHash)) as [string, string, string | null] | null
    if (!found) return undefined
    const session: SessionInfo = { name: found[0], createdAt: Number(found[1]) }
    if (found[2]) session.mayCall = JSON.parse(found[2]) as string[]
    return session
  }

  async listNames(after: string | undefined, limit: number): Promise<NamePage> {
    const from = after === undefined ? '-' : `(${after}`
    // One more than asked tells whether a next page exists.
    const names = await this.call(() => this.redis.zrangebylex(`${this.config.redisPrefix}names`, from, '+', 'LIMIT', 0, limit + 1))
    const more = names.length > limit
    if (more) names.length = limit
    return { names, next: more ? names[names.length - 1] : null }
  }

  async endSession(name: string, reason: StopReason): Promise<void> {
    await this.run('endSession', name, reason, new Date().toISOString(), this.config.endedCallRetentionMs, Date.now(), 0)
  }

  async attach(name: string, after: string | undefined, transport: 'sse' | 'poll', listener: StreamListener): Promise<Attachment> {
    const stream: LocalStream = { id: randomUUID(), transport, listener, dirty: true, announced: false }
    // Subscribe before attaching, so that no wake between the two is missed.
    await this.subscribe(name, stream)
    const lease = transport === 'sse'
      ? 2 * this.config.heartbeatMs + this.config.graceMs
      : this.config.pollMaxWaitS * 1000 + this.config.graceMs
    let cursor: number
    try {
      cursor = Number(await this.run('attach', name, after === undefined ? -1 : Number(after), stream.id, Date.now(), lease))
    } catch (error) {
      this.forget(name, stream)
      throw error
    }
    if (cursor < 0) {
      this.forget(name, stream)
      throw new ApiError('unauthorized', 'The session has ended; register again.')
    }
    return {
      read: async () => {
        if (!stream.dirty) return []
        stream.dirty = false
        let reply: [number, ...Array<[string, string[]]>] | null
        try {
          reply = (await this.run('read', name, stream.id, cursor, 512, READ_BATCH_BYTES, Date.now(), ...this.replayWindow())) as typeof reply
        } catch (error) {
          stream.dirty = true
          throw error
        }
        if (!reply) return []
        const [more, ...entries] = reply
        if (more === 1) stream.dirty = true
        if (entries.length > 0) {
          try {
            await this.replicated()
          } catch (error) {
            // Nothing else may wake this stream (the events are already stored): look again shortly.
            stream.dirty = true
            setTimeout(() => listener.wake(), 500).unref()
            throw error
          }
        }
        return entries.map(([id, fields]): StoredEvent => ({ id: id.slice(2), event: fields[1] as SessionEventType, json: fields[3] }))
      },
      // The read that returned them marked them written already (lua/read.lua).
      sent: (id: string) => {
        cursor = Number(id)
      },
      detach: () => {
        if (!this.forget(name, stream)) return
        this.run('detach', name, stream.id, Date.now(), this.config.graceMs, 'detach').catch(() => {})
      },
      touch: () => {
        this.run('detach', name, stream.id, Date.now(), lease, 'keep', ...this.replayWindow()).catch(() => {})
      },
    }
  }

  async createCall(caller: string, callee: string, sdpOffer: SdpOffer): Promise<CallInfo> {
    if (caller === callee) throw new ApiError('invalid_body', 'You cannot call yourself; "to" must name another session.')
    const callId = randomUUID()
    const now = Date.now()
    const incoming = eventJson('incomingCall', { callId, from: caller, sdpOffer })
    return callInfo(await this.run('createCall', caller, callee, callId, now, new Date(now).toISOString(), this.config.ringTimeoutMs, incoming, ...this.limits()))
  }

  async acceptCall(name: string, callId: string, sdpAnswer: SdpAnswer): Promise<CallInfo> {
    const response = eventJson('callResponse', { callId, response: 'accepted', sdpAnswer })
    const start = eventJson('startCommunication', { callId })
    return callInfo(await this.run('acceptCall', name, callId, new Date().toISOString(), response, start, ...this.limits()))
  }

  async rejectCall(name: string, callId: string, reason: string, block = false): Promise<CallInfo> {
    const rejected = eventJson('callResponse', { callId, response: 'rejected', message: reason })
    return callInfo(await this.run('rejectCall', name, callId, new Date().toISOString(), this.config.endedCallRetentionMs, rejected,
      this.config.redialCooldownMs, block ? 1 : 0, this.config.maxBlocksPerSession))
  }

  async relayCandidates(name: string, callId: string, candidates: Candidate[]): Promise<void> {
    const events = candidates.map((candidate) => eventJson('iceCandidate', { callId, candidate }))
    await this.run('relay', name, callId, 'candidates', ...this.limits(), this.config.maxCandidatesPerCall, ...events)
  }

  async relaySdp(name: string, callId: string, description: SessionDescription): Promise<void> {
    await this.run('relay', name, callId, 'sdp', ...this.limits(), this.config.maxCandidatesPerCall, eventJson('sdp', { callId, description }))
  }

  async endCall(name: string, callId: string, failure?: CallFailure): Promise<boolean> {
    return Number(await this.run('endCall', name, callId, new Date().toISOString(), this.config.endedCallRetentionMs, this.config.redialCooldownMs,
      failure ? '1' : '', failure?.cause ?? '')) === 1
  }

  async getCall(name: string, callId: string): Promise<CallInfo> {
    const fields = await this.call(() => this.redis.hgetall(`${this.config.redisPrefix}c:${callId}`))
    if (!fields.caller || (fields.caller !== name && fields.callee !== name)) {
      throw new ApiError('call_not_found', 'No such call among yours.')
    }
    return callInfo(fields)
  }

  async block(name: string, blocked: string): Promise<void> {
    await this.run('block', name, blocked, this.config.maxBlocksPerSession)
  }

  async unblock(name: string, blocked: string): Promise<void> {
    await this.run('blocks', name, blocked)
  }

  async listBlocks(name: string): Promise<string[]> {
    return ((await this.run('blocks', name, '')) as string[]).sort()
  }

  async createTicket(ticketHash: string, tokenHash: string, ttlMs: number): Promise<void> {
    await this.call(() => this.redis.set(`${this.config.redisPrefix}tk:${ticketHash}`, tokenHash, 'PX', ttlMs))
  }

  async takeTicket(ticketHash: string): Promise<string | undefined> {
    // GETDEL (Redis 6.2): used up in the same step as it is read, so two instances cannot both take it.
    return (await this.call(() => this.redis.getdel(`${this.config.redisPrefix}tk:${ticketHash}`))) ?? undefined
  }

  /**
   * Ready means a write can be acknowledged now: both connections are up, the server reached is a
   * primary (not a replica demoted by a failover), and it has the replicas that redisMinReplicas asks for.
   */
  async ping(): Promise<void> {
    if (this.subscriber.status !== 'ready') throw unavailable()
    const info = await this.call(() => this.redis.info('replication'))
    // slave0:ip=...,port=...,state=online,offset=...,lag=0 — lag: seconds since its last ack (sent every
    // second), so a replica that stopped confirming stops counting within a few seconds.
    const replicas = [...info.matchAll(/^slave\d+:.*\bstate=online\b.*\blag=(\d+)/gm)].filter((m) => Number(m[1]) <= 2).length
    if (!/^role:master\b/m.test(info) || replicas < this.config.redisMinReplicas) {
      throw unavailable()
    }
  }

  /**
   * A view of this store whose writes are idempotent under `scope` (lua/idempotent.lua): the
   * record is written in the same script as the write it remembers, so no failover can keep one without
   * the other.
   */
  withIdempotencyKey(scope: string): Store {
    const view = Object.create(this) as RedisStore
    view.idempotencyRecord = `${this.config.redisPrefix}i:${scope}`
    // The methods that types.ts REMEMBERED leaves out run on this store itself, without the record.
    return Object.assign(view, this.unremembered)
  }

  async stats(): Promise<StoreStats> {
    const p = this.config.redisPrefix
    const [sessions, calls, undelivered] = await this.call(() => Promise.all([
      this.redis.zcard(`${p}names`), this.redis.scard(`${p}calls`), this.redis.get(`${p}undelivered`),
    ]))
    return { sessions, calls, undelivered: Number(undelivered ?? 0), streams: { ...this.streamCounts } }
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    for (const [name, streams] of this.local) {
      for (const stream of [...streams]) {
        this.forget(name, stream)
        stream.listener.close('ended')
      }
    }
    closeRedis(this.redis)
    closeRedis(this.subscriber)
  }

  /**
   * With redisMinReplicas, a stream writes out only events that replicas hold: the events read may have
   * been stored by another instance's connection, which this connection's WAIT does not cover, so a
   * small write of its own comes first (WAIT counts replicas that have everything up to this
   * connection's last write). A failover can then never take back an event a client has already seen.
   * Throws store_unavailable when they do not confirm in time; the stream reads again on its next wake.
   */
  private async replicated(): Promise<void> {
    const replicas = this.config.redisMinReplicas
    if (replicas === 0) return
    const [, confirmed] = await this.call(() => Promise.all([
      this.redis.set(`${this.config.redisPrefix}fence:${this.instanceId}`, '1', 'PX', 60_000),
      this.redis.wait(replicas, this.config.redisWaitTimeoutMs),
    ]))
    if (confirmed < replicas) throw unavailable()
  }

  private limits(): [number, number] {
    return [this.config.mailboxMaxEvents, this.config.mailboxMaxBytes]
  }

  private replayWindow(): [number, number, number] {
    return [this.config.replayMaxEvents, this.config.replayMaxBytes, this.config.replayMaxAgeMs]
  }

  /**
   * Runs a script; its ERR_<code> replies become ApiErrors (see call for the rest). With
   * redisMinReplicas, a script whose writes a 2xx acknowledges is followed by WAIT on the same connection
   * (WAIT cannot run inside a script; it covers every write this connection made so far): fewer replicas
   * confirming in time is a 503, and the client's retry with the same Idempotency-Key is answered from
   * the record instead of writing again.
   */
  private async run(script: ScriptName, ...args: Array<string | number>): Promise<unknown> {
    const record = this.idempotencyRecord
    const result = await this.call(() => this.commands[script](record, record ? this.config.idempotencyTtlMs : 0, this.config.redisPrefix, ...args))
    const replicas = this.config.redisMinReplicas
    if (replicas > 0 && !UNACKNOWLEDGED.has(script)) {
      const confirmed = await this.call(() => this.redis.wait(replicas, this.config.redisWaitTimeoutMs))
      if (confirmed < replicas) {
        throw new ApiError('store_unavailable', `Stored, but confirmed by ${confirmed} of the ${replicas} replicas required in time; retry with the same Idempotency-Key.`, { 'Retry-After': '1' })
      }
    }
    return result
  }

  /** A Redis request, its errors as replies.ts's storeError says. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      throw storeError(error, this.config)
    }
  }

  private channel(name: string): string {
    return `${this.config.redisPrefix}w:${name}`
  }

  private async subscribe(name: string, stream: LocalStream): Promise<void> {
    let streams = this.local.get(name)
    const first = !streams
    if (!streams) this.local.set(name, (streams = new Set()))
    streams.add(stream)
    this.streamCounts[stream.transport]++
    // A second stream of the session waits for the first one's SUBSCRIBE as well: its attach message must
    // not be published before the channel is heard.
    let pending = this.subscribing.get(name)
    if (first) {
      const subscribed = (pending = this.subscriber.subscribe(this.channel(name)))
      this.subscribing.set(name, subscribed)
      subscribed.finally(() => {
        if (this.subscribing.get(name) === subscribed) this.subscribing.delete(name)
      }).catch(() => {})
    }
    if (!pending) return
    try {
      await pending
    } catch {
      this.forget(name, stream)
      throw unavailable()
    }
  }

  /** Drops a local stream; false when it was already gone. */
  private forget(name: string, stream: LocalStream): boolean {
    const streams = this.local.get(name)
    if (!streams?.delete(stream)) return false
    this.streamCounts[stream.transport]--
    if (streams.size === 0) {
      this.local.delete(name)
      if (!this.closed) this.subscriber.unsubscribe(this.channel(name)).catch(() => {})
    }
    return true
  }

  private onMessage(channel: string, message: string): void {
    const name = channel.slice(this.config.redisPrefix.length + 2)
    const streams = this.local.get(name)
    if (!streams) return
    if (message === 'wake') {
      for (const stream of streams) {
        stream.dirty = true
        stream.listener.wake()
      }
      return
    }
    const newer = message.startsWith('attach:') ? message.slice(7) : undefined
    for (const stream of [...streams]) {
      if (stream.id === newer) {
        stream.announced = true
        continue
      }
      // Attached after the newer one (its own message is still to come): it stays.
      if (newer && !stream.announced) continue
      this.forget(name, stream)
      // "replace": the session was taken over by its verified owner elsewhere.
      stream.listener.close(newer || message === 'replace' ? 'replaced' : 'ended')
    }
  }

  /** Claims due timers (any instance may; each runs once) and fires them. */
  private async runTimers(): Promise<void> {
    if (this.claiming || this.closed) return
    this.claiming = true
    try {
      const due = (await this.scripts.claimTimers(Date.now(), 100, CLAIM_RETRY_MS)) as string[]
      for (const member of due) {
        const nowIso = new Date().toISOString()
        if (member.startsWith('g:')) {
          await this.scripts.endSession(member.slice(2), 'peer_gone', nowIso, this.config.endedCallRetentionMs, Date.now(), 1)
        } else if (member.startsWith('r:')) {
          await this.scripts.ringTimeout(member.slice(2), nowIso, this.config.endedCallRetentionMs, this.config.redialCooldownMs)
        }
      }
    } catch {
      // Redis is away: the timers stay in the set and are claimed when it is back.
    } finally {
      this.claiming = false
    }
  }
}
