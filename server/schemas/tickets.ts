/** The answers and bodies of /v1/stream-tickets and /v1/blocks, as TypeBox. */
import { Type } from 'typebox'
import { Name } from './common.js'

export const TicketCreated = Type.Object({
  ticket: Type.String({ description: 'Opens one stream, once: GET /v1/events?ticket=<ticket>.' }),
  expiresInS: Type.Integer({ description: 'Seconds the ticket stays valid if unused.' }),
})

export const BlockBody = Type.Object({ name: Name })
export const BlockParams = Type.Object({ name: Name })
export const BlockList = Type.Object({ names: Type.Array(Type.String()) })
