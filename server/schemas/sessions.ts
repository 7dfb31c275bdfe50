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

/** The directory's page size: default and most. */
export const DIRECTORY_PAGE = { default: 100, max: 500 }

export const SessionListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: DIRECTORY_PAGE.max, description: `Names per page; default ${DIRECTORY_PAGE.default}, at most ${DIRECTORY_PAGE.max}.` })),
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'The `next` of the previous page: names after this one.' })),
})
export type SessionListQuery = Static<typeof SessionListQuery>

export const SessionList = Type.Object({
  names: Type.Array(Type.String()),
  next: Type.Union([Type.String(), Type.Null()], { description: 'The `after` of the next page; null on the last page.' }),
})
