/**
 * The wire format's shapes as TypeBox schemas: every event of the stream and the payloads clients send.
 * The server validates bodies with them, builds events typed by them and documents both at /docs/json;
 * the web code takes its types from them (`import type` only: TypeBox stays out of the browser bundle).
 * Shapes may gain fields, never lose them: no schema here forbids additional properties.
 */
import { Type, type Static, type TSchema, type TSchemaOptions } from 'typebox'
import {
  END_REASONS, FAILURE_CAUSES, MISSED_REASONS, STOP_REASONS,
  type EventType, type SessionEventType, type StreamEventType,
} from './names.js'
import { ERRORS, type ErrorCode } from './errors.js'

const literals = <T extends string>(values: readonly T[], options: TSchemaOptions = {}) => Type.Unsafe<T>(Type.Union(values.map((value) => Type.Literal(value)), options))

/** An event id as sent in `id:` lines and the poll envelope: a decimal integer, opaque to clients. */
export const EVENT_ID_PATTERN = '^[0-9]{1,16}$'
export const EventId = Type.String({ pattern: EVENT_ID_PATTERN, description: 'An event id; ids increase within a session.' })

// No maxLength on the SDP text itself: a description's size is checked as serialised JSON (413
// body_too_large, MAX_DESCRIPTION_BYTES), and the body limit bounds it before that.
const Sdp = Type.String()
export const SdpOffer = Type.Object({ type: Type.Literal('offer'), sdp: Sdp })
export type SdpOffer = Static<typeof SdpOffer>
export const SdpAnswer = Type.Object({ type: Type.Literal('answer'), sdp: Sdp })
export type SdpAnswer = Static<typeof SdpAnswer>
export const SessionDescription = Type.Object({ type: literals(['offer', 'answer']), sdp: Sdp })
export type SessionDescription = Static<typeof SessionDescription>

/** RTCIceCandidateInit; `null` relays end-of-candidates. */
export const Candidate = Type.Union([
  Type.Null(),
  Type.Object({
    candidate: Type.String(),
    sdpMid: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
    sdpMLineIndex: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 65535 }), Type.Null()])),
    usernameFragment: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  }),
])
export type Candidate = Static<typeof Candidate>

// The types of these three are names.ts's EndReason, StopReason and MissedReason.
export const EndReasonSchema = literals(END_REASONS, { description: 'How the call ended.' })
const StopReasonSchema = literals(STOP_REASONS)
/** names.ts's FailureCause. */
export const FailureCauseSchema = literals(FAILURE_CAUSES, {
  description: 'Why a call could not connect (reason `failed` only): relay_unreachable (every TURN server unreachable, e.g. refused by a proxy), relay_refused (TURN answered 401/403), no_relay (no TURN configured and no direct path), ice_failed (anything else).',
})
const MissedReasonSchema = literals(MISSED_REASONS)

const CallId = Type.String({ description: 'The call this event belongs to.' })

/** The name of an event's schema (its `$id`, its key in /docs/json's components.schemas): `incomingCall` → `IncomingCallEvent`. */
export function eventSchemaId(event: EventType): string {
  return `${event[0].toUpperCase()}${event.slice(1)}Event`
}

/** An event of the stream: `event` is its name (a const), `data` its payload; session events also carry `id`. */
function streamEvent<E extends StreamEventType, D extends TSchema>(event: E, data: D, description: string) {
  return Type.Object({ event: Type.Literal(event), data }, { $id: eventSchemaId(event), title: eventSchemaId(event), description })
}
function sessionEvent<E extends SessionEventType, D extends TSchema>(event: E, data: D, description: string) {
  return Type.Object({ id: EventId, event: Type.Literal(event), data }, { $id: eventSchemaId(event), title: eventSchemaId(event), description })
}

/** Each event schema by its event name. */
export const EVENTS = {
  ready: streamEvent('ready', Type.Object({ name: Type.String() }),
    'First on every stream (after retry:), no id: the stream is attached.'),
  heartbeat: streamEvent('heartbeat', Type.Object({}),
    'No id: 1 s after ready, then every heartbeatMs, busy or idle; a stream silent for longer has gone.'),
  replaced: streamEvent('replaced', Type.Object({}),
    'No id, last on the stream: a newer stream or poll of this session (or a take-over of the name) replaced it.'),
  incomingCall: sessionEvent('incomingCall', Type.Object({ callId: CallId, from: Type.String(), sdpOffer: SdpOffer }),
    'Someone calls you (POST /v1/calls).'),
  callResponse: sessionEvent('callResponse', Type.Union([
    Type.Object({ callId: CallId, response: Type.Literal('accepted'), sdpAnswer: SdpAnswer }),
    Type.Object({ callId: CallId, response: Type.Literal('rejected'), message: Type.String({ description: 'The callee\'s reason, e.g. "declined" or "busy".' }) }),
  ]), 'To the caller: the callee accepted (with its answer) or rejected the call.'),
  startCommunication: sessionEvent('startCommunication', Type.Object({ callId: CallId }),
    'To the callee: its accept went through; the call is active.'),
  iceCandidate: sessionEvent('iceCandidate', Type.Object({ callId: CallId, candidate: Candidate }),
    'One of the other party\'s ICE candidates, in order; null: end of candidates.'),
  sdp: sessionEvent('sdp', Type.Object({ callId: CallId, description: SessionDescription }),
    'The other party renegotiates (an offer, or the answer to yours) in an active call.'),
  stopCommunication: sessionEvent('stopCommunication', Type.Object({ callId: CallId, reason: StopReasonSchema, cause: Type.Optional(FailureCauseSchema) }),
    'The call ended: the other party hung up or cancelled, nobody answered in time, the other party\'s session is gone, or the call could not connect (`failed`, with the `cause` the other party found, when it knew one).'),
  missedCall: sessionEvent('missedCall', Type.Object({
    callId: CallId,
    from: Type.String(),
    reason: MissedReasonSchema,
    at: Type.String({ description: 'ISO 8601 time the call ended.' }),
  }), 'A call that ended before any of its events reached you: its events are replaced by this one.'),
}

type Events = typeof EVENTS
/** Every event the SSE stream can carry (the session's and the stream's own), discriminated on `event`. */
export type StreamEvent = { [K in keyof Events]: Static<Events[K]> }[keyof Events]
/**
 * An event of the session, discriminated on `event`: each has an id; the poll envelope's `events`, and
 * what SignalClient's `onEvent` receives.
 */
export type SignalEvent = Extract<StreamEvent, { event: SessionEventType }>
/** The payload of one event. */
export type EventData<K extends keyof Events> = Static<Events[K]>['data']

// The lists in names.ts and the schemas above name the same events: a mismatch fails the type-check.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const sameEvents: Same<keyof Events, SessionEventType | StreamEventType> = true
const sameSessionEvents: Same<SignalEvent['event'], SessionEventType> = true
void sameEvents, void sameSessionEvents

/** `{"error", "message"}` with `error` one of `codes` (all codes when none are given). */
export function ErrorResponse(codes: readonly ErrorCode[] = Object.keys(ERRORS) as ErrorCode[]) {
  return Type.Object({
    error: Type.Unsafe<ErrorCode>({ type: 'string', enum: [...codes] }),
    message: Type.String({ description: 'A sentence saying what to fix.' }),
  })
}
