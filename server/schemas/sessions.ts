import { Type, type Static } from 'typebox'
import { IceServer, Name } from './common.js'

const TakeOver = Type.Boolean({ description: 'Verified names: end the session that holds the name (yours, elsewhere) and take it.' })

/** Open mode: the name is the body's. */
export const CreateSessionBody = Type.Object({ name: Name, takeOver: Type.Optional(TakeOver) })
export type CreateSessionBody = Static<typeof CreateSessionBody>

/** Verified names: the name is the JWT's; a body's name must equal it. */
export const CreateVerifiedSessionBody = Type.Union([
  Type.Object({ name: Type.Optional(Name), takeOver: Type.Optional(TakeOver) }),
  Type.Null(),
])
export type CreateVerifiedSessionBody = Static<typeof CreateVerifiedSessionBody>

export const SessionCreated = Type.Object({
  name: Type.String(),
  token: Type.String({ description: 'Bearer secret; send as Authorization: Bearer <token>.' }),
  iceServers: Type.Array(IceServer),
  heartbeatMs: Type.Integer(),
  graceMs: Type.Integer(),
})
export type SessionCreated = Static<typeof SessionCreated>

export const SessionList = Type.Object({ names: Type.Array(Type.String()) })
