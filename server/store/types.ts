/**
 * The store: sessions, their ordered mailboxes and calls behind one interface, so that the in-memory
 * default (memory/) and a shared store (redis/) can stand behind the same routes.
 *
 * Every method is one atomic step of the contract: it checks, changes state and stores the events it
 * causes together, or throws an ApiError and changes nothing.
 */
import type { Candidate, EndReason, FailureCause, SdpAnswer, SdpOffer, SessionDescription, SessionEventType, StopReason } from '../../protocol/index.js'

export type { EndReason, FailureCause, StopReason }
export type CallState = 'ringing' | 'active' | 'ended'

export interface CallInfo {
  callId: string
  caller: string
  callee: string
  state: CallState
  createdAt: string
  answeredAt?: string
  endedAt?: string
  endReason?: EndReason
  /** With endReason `failed`: why, as the party that ended it said (when it said). */
  endCause?: FailureCause
}

/** `DELETE /v1/calls/:callId`'s body: the call could not connect, and (when known) why. */
export interface CallFailure {
  reason: 'failed'
  cause?: FailureCause
}

/** One event in a session's mailbox; `id` increases within the session. */
export interface StoredEvent {
  id: string
  event: SessionEventType
  /** The event's data, serialised once when it is stored. */
  json: string
}

export interface SessionInfo {
  name: string
  /** Creation time (ms since epoch); tells a session from a later one of the same name. */
  createdAt: number
  /** Verified names: the JWT's `sigpost_may_call` (names or `prefix*`); undefined: may call anyone. */
  mayCall?: string[]
}



/** What a live stream (SSE or poll) is told by the store. */
export interface StreamListener {
  /** New events are held for the session (read them with `read`). */
  wake(): void
  /** A newer stream of the same session replaced this one, or the session ended. */
  close(why: 'replaced' | 'ended'): void
}

export interface Attachment {
  /**
   * Events after this stream's cursor, oldest first, about READ_BATCH_BYTES at most (always at least one
   * when any is held), so that a replay is written in pieces; [] once the stream was replaced or the
   * session ended.
   */
  read(): Promise<StoredEvent[]>
  /** Marks events up to `id` as written to this stream (the cursor moves on). */
  sent(id: string): void
  /** Detaches the stream; the session's grace period starts unless a newer stream is attached. */
  detach(): void
  /** Called on every heartbeat: the stream is still there (a shared store's lease on the session). */
  touch(): void
}

/** How much one read hands to a stream or poll at most (a replay goes out in pieces this size). */
export const READ_BATCH_BYTES = 64 * 1024

/** One page of the directory. */
export interface NamePage {
  names: string[]
  /** The `after` of the next page; null when this is the last. */
  next: string | null
}

export interface NewSession {
  /** The client address that registers (at most config.maxSessionsPerIp live sessions each). */
  ip: string
  /** Verified names only: a held name is taken over (the older session ends, its stream is told `replaced`). */
  takeOver?: boolean
  /** Kept with the session (see SessionInfo.mayCall). */
  mayCall?: string[]
}

export interface Store {
  /**
   * Creates a session holding `name`, keyed by a hash of its token; throws name_taken, or rate_limited
   * when the address already holds maxSessionsPerIp live sessions. With `takeOver`, a session holding the
   * name ends first, in the same step: its call ends for the peer with `peer_gone`, its stream is closed
   * as `replaced`, its token stops working.
   */
  createSession(name: string, tokenHash: string, options: NewSession): Promise<SessionInfo>
  /** The session whose token hashes to `tokenHash`, if it is alive. */
  findSession(tokenHash: string): Promise<SessionInfo | undefined>
  /** Live names in name order after `after` (exclusive), at most `limit`. */
  listNames(after: string | undefined, limit: number): Promise<NamePage>
  /** Ends a session now; its call ends for the peer with `reason`. */
  endSession(name: string, reason: StopReason): Promise<void>

  /**
   * Attaches a live stream to a session, replacing (closing) any older one. `after` is the last id the
   * client saw: everything up to it counts as received and is let go; undefined starts from the oldest
   * held event.
   */
  attach(name: string, after: string | undefined, transport: 'sse' | 'poll', listener: StreamListener): Promise<Attachment>

  /**
   * Throws peer_not_found also when the callee blocks the caller (a block wins over every other answer),
   * then rate_limited (with Retry-After) while the caller's redial cool-down for the callee runs.
   */
  createCall(caller: string, callee: string, sdpOffer: SdpOffer): Promise<CallInfo>
  acceptCall(name: string, callId: string, sdpAnswer: SdpAnswer): Promise<CallInfo>
  /**
   * A rejected (or unanswered) call starts the caller's redial cool-down for this callee; `block` also
   * blocks the caller for the rest of the callee's session, in the same step.
   */
  rejectCall(name: string, callId: string, reason: string, block?: boolean): Promise<CallInfo>
  /** Throws candidate_limit when this side would pass config.maxCandidatesPerCall in the call. */
  relayCandidates(name: string, callId: string, candidates: Candidate[]): Promise<void>
  relaySdp(name: string, callId: string, description: SessionDescription): Promise<void>
  /**
   * Hang up or cancel; `false` when the call had already ended (no event). With `failure`, in any state
   * and from either party, the call ends as `failed` (with its cause): the other party receives
   * `stopCommunication {reason: "failed", cause}` (a callee that never got the ringing call gets one
   * `missedCall {reason: "cancelled"}` instead, as for a cancel); no redial cool-down.
   */
  endCall(name: string, callId: string, failure?: CallFailure): Promise<boolean>
  getCall(name: string, callId: string): Promise<CallInfo>

  /** Blocks `blocked` for the rest of `name`'s session (idempotent); throws block_limit. */
  block(name: string, blocked: string): Promise<void>
  /** Lifts a block (idempotent). */
  unblock(name: string, blocked: string): Promise<void>
  /** The names `name` blocks, in name order. */
  listBlocks(name: string): Promise<string[]>

  /** Stores a stream ticket (by its hash) for the session whose token hashes to `tokenHash`, for `ttlMs`. */
  createTicket(ticketHash: string, tokenHash: string, ttlMs: number): Promise<void>
  /** Uses a ticket up: the token hash it was minted for, once; undefined when used, expired or unknown. */
  takeTicket(ticketHash: string): Promise<string | undefined>

  /**
   * The same store, with its writes made idempotent under `scope` (a hash of the session, the request and
   * its Idempotency-Key): the first write that succeeds is remembered with its reply for idempotencyTtlMs,
   * atomically with the write; a later one under the same scope returns that reply and changes nothing.
   * A write that throws is not remembered (it changed nothing).
   */
  withIdempotencyKey(scope: string): Store

  /** For /readyz: a write could be acknowledged now. */
  ping(): Promise<void>
  stats(): Promise<StoreStats>
  close(): Promise<void>
}

/**
 * Which Store methods `withIdempotencyKey` remembers: the writes a client may retry with an Idempotency-Key
 * (true), and the rest, which run as on the store itself (false). Both stores decide by this table, and a
 * method added to Store fails the type-check until it is entered here.
 */
export const REMEMBERED = {
  createSession: true,
  findSession: false,
  listNames: false,
  endSession: true,
  // A stream's own bookkeeping: a reconnect is a new attach, not a retry.
  attach: false,
  createCall: true,
  acceptCall: true,
  rejectCall: true,
  relayCandidates: true,
  relaySdp: true,
  endCall: true,
  getCall: false,
  block: true,
  unblock: true,
  listBlocks: false,
  // Minted and used up by stream requests, which carry no Idempotency-Key (a retry mints another ticket).
  createTicket: false,
  takeTicket: false,
  withIdempotencyKey: false,
  ping: false,
  stats: false,
  close: false,
} as const satisfies Record<keyof Store, boolean>

/** The Store methods a retry under the same scope answers from the record. */
export type RememberedWrite = { [K in keyof typeof REMEMBERED]: (typeof REMEMBERED)[K] extends true ? K : never }[keyof typeof REMEMBERED]

export interface StoreStats {
  sessions: number
  calls: number
  /** Undelivered events held, all mailboxes together. */
  undelivered: number
  streams: { sse: number; poll: number }
}
