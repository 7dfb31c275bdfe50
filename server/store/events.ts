/**
 * Events as the stores build them, typed by protocol/: an event's `data` must be the shape its name has
 * in protocol/schemas.ts, so a store cannot build a wrong event (the type-check refuses it). The Redis
 * store's scripts build the few notices that only Lua knows (stopCommunication, missedCall, a DELETE's
 * reject); test/helpers/client.ts checks every event a test receives against the same schemas.
 */
import type { EventData, SessionEventType } from '../../protocol/index.js'

/** One event to store for a recipient, before it has an id. */
export type NewEvent = {
  [K in SessionEventType]: {
    event: K
    data: EventData<K>
    /** Who caused the event: its share of the recipient's limits ('' for the server's own notices). */
    from: string
    /** The call it belongs to, for the missed-call collapse. */
    callId?: string
  }
}[SessionEventType]

/** An event's data as the JSON it is stored as (the Redis store hands it to its scripts so). */
export function eventJson<K extends SessionEventType>(_event: K, data: EventData<K>): string {
  return JSON.stringify(data)
}
