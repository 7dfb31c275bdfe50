import { Type } from 'typebox'
import { EventId } from './common.js'

/** Event names, verbatim from API.md (the Kurento one-to-one tutorial's names). */
export type EventType =
  | 'incomingCall'
  | 'callResponse'
  | 'startCommunication'
  | 'iceCandidate'
  | 'sdp'
  | 'stopCommunication'
  | 'missedCall'

export const EventsQuery = Type.Object({
  token: Type.Optional(Type.String({ maxLength: 256 })),
  ticket: Type.Optional(Type.String({ maxLength: 256, description: 'A stream ticket from POST /v1/stream-tickets (single use).' })),
  lastEventId: Type.Optional(EventId),
  probe: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('true')], {
    description: 'A probe stream: `ready` and heartbeats only, no session events; it replaces nothing.',
  })),
})

export const PollQuery = Type.Object({
  token: Type.Optional(Type.String({ maxLength: 256 })),
  after: Type.Optional(EventId),
  wait: Type.Optional(Type.Number({ minimum: 0, description: 'Seconds to wait for an event; default 25, values over 60 count as 60.' })),
})

export const PollResponse = Type.Object({
  events: Type.Array(
    Type.Object({ id: Type.String(), event: Type.String(), data: Type.Object({}, { additionalProperties: true }) }),
  ),
  replaced: Type.Optional(Type.Boolean({ description: 'true when a newer stream or poll of this session took over.' })),
})
