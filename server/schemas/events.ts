/** The queries and answers of the receiving endpoints (/v1/events, /v1/poll), built on protocol/'s event schemas. */
import { Type } from 'typebox'
import { EVENTS, eventSchemaId, SESSION_EVENT_TYPES, STREAM_EVENT_TYPES, type EventType } from '../../protocol/index.js'
import { EventId } from './common.js'

export const EventsQuery = Type.Object({
  token: Type.Optional(Type.String({ maxLength: 256, description: 'The session token, where TOKEN_IN_URL allows it (EventSource cannot set headers); prefer a ticket.' })),
  ticket: Type.Optional(Type.String({ maxLength: 256, description: 'A stream ticket from POST /v1/stream-tickets (single use).' })),
  lastEventId: Type.Optional(EventId),
  probe: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('true')], {
    description: 'A probe stream: `ready` and heartbeats only, no session events; it replaces nothing.',
  })),
})

export const PollQuery = Type.Object({
  token: Type.Optional(Type.String({ maxLength: 256, description: 'The session token, where TOKEN_IN_URL allows it; prefer the Authorization header.' })),
  after: Type.Optional(EventId),
  wait: Type.Optional(Type.Number({ minimum: 0, description: 'Seconds to wait for an event; default 25, values over 60 count as 60.' })),
})

/**
 * The event schemas of protocol/, shared by $id (plugins/docs.ts adds them), so /docs/json names each one in
 * components.schemas; the references below point there.
 */
export const EVENT_SCHEMAS = Object.values(EVENTS)

/** A discriminated `oneOf` of the named event schemas of `types`. */
function oneEventOf(types: readonly EventType[], description: string) {
  const id = eventSchemaId
  return Type.Unsafe({
    description,
    oneOf: types.map((type) => ({ $ref: `${id(type)}#` })),
    discriminator: { propertyName: 'event', mapping: Object.fromEntries(types.map((type) => [type, `#/components/schemas/${id(type)}`])) },
  })
}

/** GET /v1/events: every event the stream can carry (on the wire: `id:` for session events, `event:`, `data:` as JSON). */
export const EventStreamItem = oneEventOf([...STREAM_EVENT_TYPES, ...SESSION_EVENT_TYPES],
  'Each event is written as `id: <id>` (session events only), `event: <event>`, `data: <data as JSON>`, then a blank line.')

export const PollResponse = Type.Object({
  events: Type.Array(oneEventOf(SESSION_EVENT_TYPES, 'One event of the session.'), { description: 'Everything after `after`, oldest first; [] after `wait`.' }),
  replaced: Type.Optional(Type.Boolean({ description: 'true when a newer stream or poll of this session took over.' })),
})
