/** The refusals both stores give for a limit, worded once. */
import type { Config } from '../config.js'
import { ApiError } from '../errors.js'

export const MAILBOX_FULL = 'The recipient has too many undelivered events; retry once it has caught up (its stream is down or slow).'
export const SHARE_FULL = 'You have filled your share of the recipient\'s undelivered events; retry once it has caught up.'

export function tooManySessions(config: Config): ApiError {
  return new ApiError('rate_limited', `Your address already holds ${config.maxSessionsPerIp} live sessions; end one (DELETE /v1/sessions/current) or wait for one to expire.`, {
    'Retry-After': String(Math.ceil(config.graceMs / 1000)),
  })
}

export function tooManyCandidates(config: Config): ApiError {
  return new ApiError('candidate_limit', `A call carries at most ${config.maxCandidatesPerCall} candidates from each side.`)
}
