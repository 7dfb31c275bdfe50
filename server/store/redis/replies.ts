/**
 * What the Redis store's replies become: the scripts' ERR_<code> replies their ApiErrors, an outage 503
 * store_unavailable, any other error a fault; a call's hash a CallInfo.
 */
import { ReplyError } from 'ioredis'
import type { Config } from '../../config.js'
import { ApiError, type ErrorCode } from '../../errors.js'
import { MAILBOX_FULL, SHARE_FULL, tooManyCandidates, tooManySessions } from '../refusals.js'
import type { CallInfo, EndReason, FailureCause } from '../types.js'

/** The store cannot take the request now: 503, retry shortly. */
export function unavailable(): ApiError {
  return new ApiError('store_unavailable', 'The store cannot be reached; retry shortly.', { 'Retry-After': '1' })
}

/**
 * Redis's refusals that pass by themselves (a failover, a restart loading its data, replicas catching up,
 * a long script): 503 store_unavailable like a lost connection. Any other error Redis answers with (e.g.
 * WRONGTYPE: a key of another program's under the prefix) is a fault that no retry mends. Redis 7 answers
 * a script's failed call with that call's own error; 6.2 wraps it ("ERR Error running script …: -READONLY …").
 */
const PASSING = /(?:^|\s-)(READONLY|LOADING|MASTERDOWN|NOREPLICAS|BUSY|TRYAGAIN|CLUSTERDOWN)\b/

/** Replies of the scripts that are a client's mistake, and what the client is told. */
const SCRIPT_ERRORS: Record<string, [ErrorCode, string]> = {
  name_taken: ['name_taken', 'That name is held by someone else; pick another.'],
  unauthorized: ['unauthorized', 'The session has ended; register again.'],
  peer_not_found: ['peer_not_found', 'No one is registered under that name.'],
  busy_self: ['busy', 'You are already in a call; hang it up first.'],
  busy: ['busy', 'The callee is in another call.'],
  mailbox_full: ['mailbox_full', MAILBOX_FULL],
  mailbox_share: ['mailbox_full', SHARE_FULL],
  call_not_found: ['call_not_found', 'No such call among yours.'],
  forbidden_accept: ['forbidden', 'Only the callee can accept a call.'],
  forbidden_reject: ['forbidden', 'Only the callee can reject a call; the caller cancels with DELETE.'],
  invalid_state: ['invalid_state', 'The call is not ringing.'],
  invalid_state_sdp: ['invalid_state', 'Descriptions are relayed in an active call only.'],
  invalid_state_candidates: ['invalid_state', 'The call has ended; candidates are no longer relayed.'],
  block_limit: ['block_limit', 'This session blocks as many names as it may; lift a block first.'],
}

/**
 * The error a failed Redis request is thrown as: the scripts' ERR_<code> replies become their ApiErrors; a
 * connection that is away, a time-out or a passing refusal (PASSING) is 503 store_unavailable; any other
 * error Redis answers with is the error itself: 500 internal_error, its cause logged by the error handler
 * (never in the reply).
 */
export function storeError(error: unknown, config: Config): Error {
  const match = /\bERR_([a-z_]+)(?::(\w+))?/.exec((error as Error).message ?? '')
  if (match?.[1] === 'cooldown') {
    const seconds = String(Math.ceil(Number(match[2]) / 1000))
    return new ApiError('rate_limited', `Your last call to that name was not taken; you can call again in ${seconds} s.`, { 'Retry-After': seconds })
  }
  if (match?.[1] === 'too_many_sessions') return tooManySessions(config)
  if (match?.[1] === 'candidate_limit') return tooManyCandidates(config)
  const known = match ? SCRIPT_ERRORS[match[1]] : undefined
  if (known) {
    const message = match?.[2] && known[0] === 'invalid_state' ? `${known[1]} (it is ${match[2]})` : known[1]
    return new ApiError(known[0], message, known[0] === 'mailbox_full' ? { 'Retry-After': '1' } : {})
  }
  if (error instanceof ReplyError && !PASSING.test((error as Error).message)) return error as Error
  return unavailable()
}

/** A call's fields (HGETALL, as a hash or a flat array) as CallInfo. */
export function callInfo(raw: unknown): CallInfo {
  const fields: Record<string, string> = {}
  if (Array.isArray(raw)) {
    for (let i = 0; i < raw.length; i += 2) fields[raw[i]] = raw[i + 1]
  } else {
    Object.assign(fields, raw)
  }
  const info: CallInfo = {
    callId: fields.callId,
    caller: fields.caller,
    callee: fields.callee,
    state: fields.state as CallInfo['state'],
    createdAt: fields.createdAt,
  }
  if (fields.answeredAt) info.answeredAt = fields.answeredAt
  if (fields.endedAt) info.endedAt = fields.endedAt
  if (fields.endReason) info.endReason = fields.endReason as EndReason
  if (fields.endCause) info.endCause = fields.endCause as FailureCause
  return info
}
