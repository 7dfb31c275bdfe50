import { Type, type Static } from 'typebox'
import { IceServer, Name } from './common.js'

export const CreateSessionBody = Type.Object({ name: Name })
export type CreateSessionBody = Static<typeof CreateSessionBody>

export const SessionCreated = Type.Object({
  name: Type.String(),
  token: Type.String({ description: 'Bearer secret; send as Authorization: Bearer <token>.' }),
  iceServers: Type.Array(IceServer),
  heartbeatMs: Type.Integer(),
  graceMs: Type.Integer(),
})
export type SessionCreated = Static<typeof SessionCreated>

export const SessionList = Type.Object({ names: Type.Array(Type.String()) })
