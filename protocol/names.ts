/**
 * The names of the wire format, as plain values (no TypeBox): what the browser bundle needs at run time
 * (EventSource listens by event name), so that it never pulls the schema builder (about 75 KiB minified)
 * in. Their shapes are in schemas.ts, which is checked against these lists.
 */

/** Events of a session's stream, verbatim from docs/http-api.md "Events": each has an id, is held until received and replayed. */
export const SESSION_EVENT_TYPES = [
  'incomingCall',
  'callResponse',
  'startCommunication',
  'iceCandidate',
  'sdp',
  'stopCommunication',
  'missedCall',
] as const
export type SessionEventType = (typeof SESSION_EVENT_TYPES)[number]

/** The SSE stream's own events: no id, never held or replayed, never in a poll's `events`. */
export const STREAM_EVENT_TYPES = ['ready', 'heartbeat', 'replaced'] as const
export type StreamEventType = (typeof STREAM_EVENT_TYPES)[number]

export type EventType = SessionEventType | StreamEventType

/**
 * How a call ended (`GET /v1/calls/:callId`'s `endReason`). `failed`: it could not connect (a party said so
 * with `DELETE /v1/calls/:callId {"reason": "failed"}`).
 */
export const END_REASONS = ['hangup', 'cancelled', 'rejected', 'no_answer', 'peer_gone', 'failed'] as const
export type EndReason = (typeof END_REASONS)[number]

/** What `stopCommunication` says: every end but a reject (the caller learns that from `callResponse`). */
export const STOP_REASONS = ['hangup', 'cancelled', 'no_answer', 'peer_gone', 'failed'] as const satisfies readonly EndReason[]
export type StopReason = (typeof STOP_REASONS)[number]

/**
 * Why a call could not connect (docs/element.md "Why a call could not connect"), as the side that found out
 * says: every TURN server unreachable (e.g. refused by a proxy), TURN refused the credentials (401/403),
 * no TURN configured and no direct path, anything else.
 */
export const FAILURE_CAUSES = ['relay_unreachable', 'relay_refused', 'no_relay', 'ice_failed'] as const
export type FailureCause = (typeof FAILURE_CAUSES)[number]

/** Why a call was missed (`missedCall`): the caller gave up, or nobody answered in the ring time. */
export const MISSED_REASONS = ['cancelled', 'no_answer'] as const satisfies readonly StopReason[]
export type MissedReason = (typeof MISSED_REASONS)[number]
